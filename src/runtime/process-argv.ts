/** The argv ProcessDriver spawns for a workload spec: pure, so the exact command lines are tested as arrays. */
import { cgroupEnterArgv } from './cgroups.js';
import type { LimitName, Program, ResourceLimits } from './driver.js';
import { type Sandbox, sandboxArgv } from './sandbox.js';

/** The limits prlimit sets (the others are cgroups'). */
export type PrlimitName = Extract<LimitName, 'openFiles' | 'processes' | 'fileBytes'>;

export const PRLIMIT_FLAGS: Record<PrlimitName, string> = {
  openFiles: '--nofile',
  processes: '--nproc',
  fileBytes: '--fsize',
};

/** `prlimit --nofile=N:N … --`: sets soft and hard limit, then execs the rest (same pid, same start time). */
export function limitsArgv(prlimit: string, limits: ResourceLimits): string[] {
  const flags: string[] = [];
  for (const name of Object.keys(PRLIMIT_FLAGS) as PrlimitName[]) {
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
  /** cgroup.procs files the process enters (its own pid written into each) before anything else runs. */
  cgroupProcs?: readonly string[];
}

/**
 * The user's command is the only shell string, one argv element, never interpolated. Sandboxed, bwrap leads
 * the process group (its pid and start time identify the workload); prlimit, when limits are asked for,
 * execs into what follows and so leaves the pid as it is; so does the cgroup entry script, which comes first (it
 * runs as the daemon, which may write cgroup.procs, and everything after it, bwrap too, starts inside).
 */
export function processArgv(o: ProcessArgvOptions): string[] {
  const program =
    o.program.command !== undefined ? ['/bin/sh', '-c', o.program.command] : [...o.program.argv];
  if (program.length === 0) throw new Error('a workload needs a command or a program to run');
  const inner = o.sandbox ? sandboxArgv(o.sandbox, o.cwd, program) : program;
  const enter = o.cgroupProcs && o.cgroupProcs.length > 0 ? cgroupEnterArgv(o.cgroupProcs) : [];
  const wanted = (Object.keys(PRLIMIT_FLAGS) as PrlimitName[]).some((n) => o.limits?.[n] !== undefined);
  if (!wanted) return [...enter, ...inner];
  if (o.prlimit === null) throw new Error('resource limits need prlimit (util-linux), which this host lacks');
  return [...enter, ...limitsArgv(o.prlimit, o.limits ?? {}), ...inner];
}
