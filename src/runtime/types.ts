import type { Sandbox } from './sandbox.js';

/** What it takes to start one replica as a host process. */
export interface ProcessSpec {
  /** Berth's instance id; used in log file names and to find the process again. */
  id: string;
  cwd: string;
  /** The user's command, run as `sh -c <command>` in its own session / process group. */
  command: string;
  env: Record<string, string>;
  /** stdout and stderr are appended here (opened by the child, so the daemon can die without SIGPIPE). */
  stdoutPath: string;
  stderrPath: string;
  /** Run inside this sandbox (runtime/sandbox.ts); absent: as the daemon's user. */
  sandbox?: Sandbox;
}

/** Enough to find a live process again after `berth server` restarts. */
export interface ProcessHandle {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: distinguishes our process from a later one reusing the pid. */
  startTime: string;
}

export interface ExitInfo {
  /** null when unknown (an adopted process whose parent was a previous daemon) or killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
}
