/**
 * Keeps workloads running through a RuntimeDriver: follows their output, notices exits, restarts by policy
 * with exponential backoff and a health gate before traffic returns, adopts what a previous daemon started.
 * Knows nothing of deployments: owners (replicas, cron runs, next data services) give it hooks.
 */
import fs from 'node:fs';
import { delay } from '../lib/wait.js';
import type { LogStream, RuntimeDriver, WorkloadHandle, WorkloadSpec } from './driver.js';
import { LogTail } from './log-tail.js';
import type { ExitInfo } from './types.js';

/** How long what is left of a group whose leader ended on its own gets between SIGTERM and SIGKILL. */
const LEFTOVER_GRACE_MS = 3000;

export type RestartPolicyType = 'ON_FAILURE' | 'ALWAYS' | 'NEVER';

export interface RestartPolicy {
  type: RestartPolicyType;
  maxRetries: number;
}

/** After an exit: restart (the attempt-th time, after backoffMs), or not and why. */
export type RestartDecision =
  | { restart: true; attempt: number; backoffMs: number }
  | { restart: false; why: 'clean-exit' | 'policy' | 'retries' };

/** Exponential backoff: 0.5 s, 1 s, 2 s, … capped at 30 s. */
export function backoffMs(attempt: number): number {
  return Math.min(500 * 2 ** (attempt - 1), 30_000);
}

/** The restart policy applied to one exit; `restarts` is how many restarts happened before it. */
export function decideRestart(policy: RestartPolicy, exit: ExitInfo, restarts: number): RestartDecision {
  const failed = exit.code !== 0;
  const restart = policy.type === 'ALWAYS' || (policy.type === 'ON_FAILURE' && failed);
  if (!restart) return { restart: false, why: failed ? 'policy' : 'clean-exit' };
  if (restarts >= policy.maxRetries) return { restart: false, why: 'retries' };
  return { restart: true, attempt: restarts + 1, backoffMs: backoffMs(restarts + 1) };
}

export function describeExit(info: ExitInfo): string {
  if (info.oomKilled) return 'was OOM-killed: it reached its memory limit';
  if (info.signal) return `was killed by ${info.signal}`;
  // No status: it was not this daemon's child (adopted after a restart, or it ended while Berth was down).
  if (info.code === null) return 'exited (exit code unknown: it was started by an earlier Berth server)';
  return `exited with code ${info.code}`;
}

/** What the owner does with a workload's output and with an exit nobody was waiting for. */
export interface WorkloadHooks {
  /** Absent: its output is not followed (a program that keeps its own log, e.g. the edge). */
  onLine?(line: string, stream: LogStream): void;
  /** A backlog larger than truncateAfterBytes was dropped (see LogTail). */
  onDropped?(stream: LogStream, bytes: number): void;
  /** The raw output files are only a buffer: emptied once read past this size. */
  truncateAfterBytes?: number;
  /** The workload ended on its own: not through stop(), and not during a restart loop (that awaits it). */
  onExit(info: ExitInfo): void;
}

export interface LogOffsets {
  stdout: number;
  stderr: number;
}

/** One restart loop: the owner's side of it (persisting, routing, logging). */
export interface RestartPlan {
  /** In messages: "replica 0". */
  name: string;
  policy: RestartPolicy;
  /** Restarts so far. */
  restarts: number;
  /** It is down after exit (restarts so far): persist that, take it out of routing. */
  down(exit: ExitInfo, restarts: number): Promise<void>;
  /** A restart is due after backoffMs: persist the new count. */
  restarting(restarts: number): void;
  /** Still wanted after the backoff (still the active deployment, nobody stopped it meanwhile)? */
  wanted(): boolean;
  /** Starts it again (through Supervisor.start). */
  respawn(): Promise<void>;
  /** The health probe a restarted workload passes before traffic returns; throws when it does not. */
  gate(): Promise<void>;
  /** It passed the gate: route to it again. */
  healthy(): Promise<void>;
  /** No restart (policy or retries): `failed` when that leaves it crashed. */
  settled(failed: boolean, message: string): void;
  log(level: 'info' | 'warn', message: string): void;
  /** Errors of a failed restart that are worth a line (health-check failures); others pass silently. */
  isReportable(err: unknown): boolean;
}

interface Followed<H> {
  handle: H;
  unwatch: () => void;
  /** Empty when the owner does not follow its output (no onLine). */
  tails: LogTail[];
  exited: Promise<ExitInfo>;
}

export class Supervisor<H extends WorkloadHandle = WorkloadHandle> {
  private readonly followed = new Map<string, Followed<H>>();
  /** Workloads inside a restart loop (its end): their exits are awaited by the loop, not reported. */
  private readonly restarting = new Map<string, Promise<void>>();
  /**
   * Groups whose leader ended on its own, being stopped: when only the leader died (a `kill -9` of bwrap), the
   * rest of the group may live on holding the workload's port, so a restart waits until it is gone.
   */
  private readonly reaping = new Map<string, Promise<void>>();
  /**
   * Workloads inside stop(): followed until the whole group is gone, not just its leader (in the sandbox bwrap
   * leads and dies at SIGTERM while the app still drains and prints its last lines).
   */
  private readonly stopping = new Set<string>();

  constructor(readonly driver: RuntimeDriver<H>) {}

  /** Starts a workload and follows its output from the current end of its log files. */
  async start(spec: WorkloadSpec, hooks: WorkloadHooks): Promise<H> {
    const from = { stdout: sizeOf(spec.logs.stdout), stderr: sizeOf(spec.logs.stderr) };
    const handle = await this.driver.start(spec);
    this.follow(handle, from, hooks);
    return handle;
  }

  /**
   * Takes over a workload a previous daemon recorded: its stored handle (parsed JSON) and how far its output
   * was read. Returns the handle when it still runs (and follows it), else null.
   */
  async adopt(stored: unknown, logs: LogOffsets, hooks: WorkloadHooks): Promise<H | null> {
    const handle = await this.driver.adopt(stored);
    if (handle === null) return null;
    this.follow(handle, logs, hooks);
    return handle;
  }

  handleOf(id: string): H | null {
    return this.followed.get(id)?.handle ?? null;
  }

  /** Resolves when the followed workload exits; null when it is not followed. */
  exited(id: string): Promise<ExitInfo> | null {
    return this.followed.get(id)?.exited ?? null;
  }

  async isAlive(id: string): Promise<boolean> {
    const f = this.followed.get(id);
    return f ? this.driver.isAlive(f.handle) : false;
  }

  /**
   * Stops a workload (followed, or by the handle stored for it, as JSON) and stops following it. `signal` is
   * the polite one (SIGTERM unless the program stops softly on another: HAProxy's SIGUSR1, PostgreSQL's SIGINT).
   */
  async stop(
    id: string,
    graceMs: number,
    stored: unknown = null,
    signal?: NodeJS.Signals,
  ): Promise<ExitInfo | null> {
    const handle = this.followed.get(id)?.handle ?? (stored ? await this.driver.adopt(stored) : null);
    this.stopping.add(id);
    try {
      const info = handle ? await this.driver.stop(handle, { graceMs, signal }) : null;
      this.unfollow(id);
      return info;
    } finally {
      this.stopping.delete(id);
    }
  }

  /** How far each followed workload's output was read: persist it, pass it to adopt() later. */
  offsets(): Array<[string, LogOffsets]> {
    return [...this.followed]
      .filter(([, f]) => f.tails.length === 2)
      .map(([id, f]) => [id, { stdout: f.tails[0].offset(), stderr: f.tails[1].offset() }]);
  }

  /**
   * Applies the restart policy after an unexpected exit, restarting with backoff until the workload passes
   * its gate, the policy says no, retries run out, or it is no longer wanted.
   */
  async keepRunning(id: string, firstExit: ExitInfo, plan: RestartPlan): Promise<void> {
    if (this.restarting.has(id)) return;
    const loop = this.restartLoop(id, firstExit, plan).finally(() => this.restarting.delete(id));
    this.restarting.set(id, loop);
    await loop;
  }

  /**
   * Resolves once the workload's restart loop (if one runs) has ended, so a caller that must stop it knows no
   * respawn is half-way: the owner's `wanted()` should already say no.
   */
  async restartSettled(id: string): Promise<void> {
    await this.restarting.get(id)?.catch(() => undefined);
  }

  private async restartLoop(id: string, firstExit: ExitInfo, plan: RestartPlan): Promise<void> {
    let exit = firstExit;
    let restarts = plan.restarts;
    for (;;) {
      await plan.down(exit, restarts);
      const what = `${plan.name} ${describeExit(exit)}`;
      const policy = plan.policy;
      const decision = decideRestart(policy, exit, restarts);
      if (!decision.restart) {
        if (decision.why === 'clean-exit') {
          plan.settled(false, `${what}; restartPolicyType ${policy.type} does not restart clean exits`);
        } else if (decision.why === 'policy') {
          plan.settled(true, `${what} and restartPolicyType is ${policy.type}, so it was not restarted`);
        } else {
          plan.settled(
            true,
            `${what} and was restarted ${restarts} times (restartPolicyMaxRetries = ${policy.maxRetries}); giving up`,
          );
        }
        return;
      }
      restarts = decision.attempt;
      const of =
        Number.isFinite(policy.maxRetries) && policy.maxRetries < Number.MAX_SAFE_INTEGER
          ? ` of ${policy.maxRetries}`
          : '';
      plan.log('warn', `${what}; restarting it in ${decision.backoffMs / 1000}s (restart ${restarts}${of})`);
      plan.restarting(restarts);
      await delay(decision.backoffMs);
      if (!plan.wanted()) return;
      await this.reaping.get(id);
      try {
        await plan.respawn();
        await plan.gate();
        await plan.healthy();
        plan.log('info', `${plan.name} is healthy again`);
        return;
      } catch (err) {
        const f = this.followed.get(id);
        if (f && (await this.driver.isAlive(f.handle))) await this.driver.stop(f.handle, { graceMs: 0 });
        exit = f ? await f.exited : { code: null, signal: null };
        this.unfollow(id);
        if (plan.isReportable(err)) plan.log('warn', `restart ${restarts} failed: ${(err as Error).message}`);
      }
    }
  }

  private reapLeftovers(id: string, handle: H): void {
    const reap: Promise<void> = this.driver
      .stop(handle, { graceMs: LEFTOVER_GRACE_MS })
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => {
        if (this.reaping.get(id) === reap) this.reaping.delete(id);
      });
    this.reaping.set(id, reap);
  }

  private follow(handle: H, from: LogOffsets, hooks: WorkloadHooks): void {
    const id = handle.id;
    const files = this.driver.logFiles(handle);
    this.unfollow(id);
    const onLine = hooks.onLine;
    const tail = (stream: LogStream, emit: (line: string, stream: LogStream) => void) =>
      new LogTail(files[stream], from[stream], (raw) => emit(raw, stream), {
        truncateAfterBytes: hooks.truncateAfterBytes,
        onDropped: hooks.onDropped ? (bytes) => hooks.onDropped?.(stream, bytes) : undefined,
      });
    const tails = onLine ? [tail('stdout', onLine), tail('stderr', onLine)] : [];
    let resolveExit!: (i: ExitInfo) => void;
    const exited = new Promise<ExitInfo>((r) => {
      resolveExit = r;
    });
    const unwatch = this.driver.watch(handle, (info) => {
      for (const t of tails) t.drain();
      resolveExit(info);
      if (this.followed.get(id)?.handle !== handle) return; // an older run of a restarted workload
      if (this.restarting.has(id)) return; // the restart loop awaits this exit itself
      if (this.stopping.has(id)) return; // stop() unfollows once the whole group is gone
      this.reapLeftovers(id, handle);
      this.unfollow(id);
      hooks.onExit(info);
    });
    this.followed.set(id, { handle, unwatch, tails, exited });
  }

  /** Stops following (the workload itself runs on). */
  unfollow(id: string): void {
    const f = this.followed.get(id);
    if (!f) return;
    f.unwatch();
    for (const t of f.tails) {
      t.drain();
      t.close();
    }
    this.followed.delete(id);
  }

  /** Stops following everything; workloads keep running for the next daemon to adopt. */
  close(): void {
    for (const id of [...this.followed.keys()]) this.unfollow(id);
  }
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}
