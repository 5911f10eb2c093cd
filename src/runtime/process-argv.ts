/** The argv ProcessDriver spawns for a workload spec: pure, so the exact command lines are tested as arrays. */
import type { LimitName, Program, ResourceLimits } from './driver.js';
import { type Sandbox, sandboxArgv } from './sandbox.js';

const PRLIMIT_FLAGS: Record<LimitName, string> = {
  openFiles: '--nofile',
  processes: '--nproc',
  fileBytes: '--fsize',
};

/** `prlimit --nofile=N:N … --`: sets soft and hard limit, then execs the rest (same pid, same start time). */
export function limitsArgv(prlimit: string, limits: ResourceLimits): string[] {
  const flags: string[] = [];
  for (const name of Object.keys(PRLIMIT_FLAGS) as LimitName[]) {
    const v = limits[name];
    if (v === undefined) continue;
    if (!Number.isInteger(v) || v < 0)
      throw new Error(`resource limit ${name} must be a whole number ≥ 0, not ${v}`);
    flags.push(`${PRLIMIT_FLAGS[name]}=${v}:${v}`);
  }
  return flags.length === 0 ? [] : [prlimit, ...flags, '--'];
}

export interface ProcessArgvOptions {
  program: Program;
  cwd: string;
  sandbox?: Sandbox;
  limits?: ResourceLimits;
  /** Path of util-linux prlimit; needed only with limits. */
  prlimit: string | null;
}

/**
 * The user's command is the only shell string, one argv element, never interpolated. Sandboxed, bwrap leads
 * the process group (its pid and start time identify the workload); prlimit, when limits are asked for,
 * execs into what follows and so leaves the pid as it is.
 */
export function processArgv(o: ProcessArgvOptions): string[] {
  const program =
    o.program.command !== undefined ? ['/bin/sh', '-c', o.program.command] : [...o.program.argv];
  if (program.length === 0) throw new Error('a workload needs a command or a program to run');
  const inner = o.sandbox ? sandboxArgv(o.sandbox, o.cwd, program) : program;
  const wanted = Object.values(o.limits ?? {}).some((v) => v !== undefined);
  if (!wanted) return inner;
  if (o.prlimit === null) throw new Error('resource limits need prlimit (util-linux), which this host lacks');
  return [...limitsArgv(o.prlimit, o.limits ?? {}), ...inner];
}
