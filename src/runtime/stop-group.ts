/**
 * "Stop a detached process group and wait until it is gone", shared by ProcessDriver and the edge's own
 * long-lived processes (the built-in edge, HAProxy's master), which all run in a process group of their own.
 */
import { delay } from '../lib/wait.js';
import { groupAlive, isLiveStat, readProcStat, signalGroup } from './proc.js';

/** How often the group is checked while waiting. */
const POLL_MS = 25;
/** How long to wait for the group to vanish after SIGKILL before giving up (processes stuck in the kernel). */
const AFTER_KILL_WAIT_MS = 10_000;

export interface StopGroupOptions {
  /** Time between `signal` and SIGKILL. */
  graceMs: number;
  /** The polite signal; SIGTERM unless the program stops softly on another (HAProxy: SIGUSR1). */
  signal?: NodeJS.Signals;
}

/**
 * Sends `signal` to group pgid, waits up to graceMs for every member to exit, then SIGKILLs the group and waits
 * again. Resolves true when nothing of the group is left. Never throws; pids ≤ 1 are never signalled.
 */
export async function stopGroup(pgid: number, opts: StopGroupOptions): Promise<boolean> {
  if (!anyAlive(pgid)) return true;
  signalGroup(pgid, opts.signal ?? 'SIGTERM');
  if (opts.graceMs > 0 && (await waitGroupGone(pgid, opts.graceMs))) return true;
  if (!anyAlive(pgid)) return true;
  signalGroup(pgid, 'SIGKILL');
  return waitGroupGone(pgid, AFTER_KILL_WAIT_MS);
}

export async function waitGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!anyAlive(pgid)) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await delay(Math.min(POLL_MS, left));
  }
}

/** The group, or the process alone when it is not a group leader (signalGroup then signals just it). */
function anyAlive(pgid: number): boolean {
  return groupAlive(pgid) || isLiveStat(readProcStat(pgid));
}
