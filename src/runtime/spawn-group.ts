/**
 * The one way Berth spawns a program in a process group of its own (replicas, cron runs, preDeploy commands,
 * build steps): its argv (processArgv: sh -c or a program, the sandbox, prlimit), cwd and environment.
 */

import { type ChildProcess, type StdioOptions, spawn } from 'node:child_process';
import type { Program, ResourceLimits } from './driver.js';
import { processArgv } from './process-argv.js';
import { type Sandbox, sandboxEnv } from './sandbox.js';

export interface SpawnGroupOptions {
  program: Program;
  cwd: string;
  /** The complete environment; sandboxed, the sandbox's own variables are added (sandboxEnv). */
  env: Record<string, string>;
  sandbox?: Sandbox | null;
  limits?: ResourceLimits;
  /** util-linux prlimit; needed only with limits. */
  prlimit?: string | null;
  /** cgroup.procs files it enters before anything runs (cgroup-host.ts). */
  cgroupProcs?: readonly string[];
  stdio: StdioOptions;
}

/**
 * Spawns detached (a new session: its own process group, pgid = pid). Sandboxed, bwrap leads the group and
 * starts in '/': it changes into `cwd` inside the sandbox itself. Throws when the argv cannot be built.
 */
export function spawnGroup(o: SpawnGroupOptions): ChildProcess {
  const sandbox = o.sandbox ?? undefined;
  const argv = processArgv({
    program: o.program,
    cwd: o.cwd,
    sandbox,
    limits: o.limits,
    prlimit: o.prlimit ?? null,
    cgroupProcs: o.cgroupProcs,
  });
  return spawn(argv[0], argv.slice(1), {
    cwd: sandbox ? '/' : o.cwd,
    env: sandbox ? sandboxEnv(o.env, sandbox) : o.env,
    detached: true,
    stdio: o.stdio,
  });
}
