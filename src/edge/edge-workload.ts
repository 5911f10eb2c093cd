/**
 * One of the edge's long-lived processes (the built-in edge, HAProxy's master, its helper edge) as a workload
 * the runtime Supervisor runs through ProcessDriver: started, adopted from its handle file, restarted (ALWAYS).
 */

import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../lib/atomic-write.js';
import type { WorkloadSpec } from '../runtime/driver.js';
import { ProcessDriver, processHandleFor } from '../runtime/process-driver.js';
import { type RestartPlan, Supervisor } from '../runtime/supervisor.js';
import type { ExitInfo, ProcessHandle } from '../runtime/types.js';

/** A crash more than this long after the previous one starts the backoff again at 0.5 s. */
const CALM_MS = 10 * 60_000;

export interface EdgeWorkloadOptions {
  /** The supervisor's id for it, and the handle's: unique per data dir ('edge', 'haproxy', …). */
  id: string;
  /** In messages: "the edge", "HAProxy". */
  name: string;
  /** Where its handle is kept (JSON), next to the files it writes itself. */
  handleFile: string;
  /** What to start: an argv program, its environment, its log files. Built anew for every start. */
  spec(): WorkloadSpec;
  /** Run before every start (HAProxy: write the configuration it loads). */
  prepare?(): Promise<void>;
  /**
   * Resolves once it serves (its control or stats socket answers); throws when `exited` settles first or it
   * takes too long. Gates the first start and every restart.
   */
  ready(exited: Promise<ExitInfo>): Promise<void>;
  /** After a restart passed `ready`: give it the current routing table. */
  healthy(): Promise<void>;
  /** Where restart messages go (its own log file, and the daemon's log when it wired one). */
  log(level: 'info' | 'warn', message: string): void;
  /** The polite stop signal; SIGTERM unless the program drains on another (HAProxy: SIGUSR1). */
  stopSignal?: NodeJS.Signals;
  supervisor?: Supervisor<ProcessHandle>;
}

export class EdgeWorkload {
  private readonly supervisor: Supervisor<ProcessHandle>;
  /** Last handle of a run, kept after its exit so what is left of its group can be stopped. */
  private last: ProcessHandle | null = null;
  /** Keeps it running until stop(). */
  private wanted = false;
  /** A start that awaits its own gate: an exit then fails the start instead of starting a restart loop. */
  private starting = false;
  private restarts = 0;
  private lastCrash = 0;

  constructor(private readonly opts: EdgeWorkloadOptions) {
    this.supervisor = opts.supervisor ?? new Supervisor(new ProcessDriver());
  }

  /** Pid of the running process this instance started or adopted. */
  pid(): number | null {
    return this.supervisor.handleOf(this.opts.id)?.pid ?? null;
  }

  /** The stored handle's process, when it still runs (same pid and start time): a start may be under way. */
  async storedAlive(): Promise<boolean> {
    const stored = this.readHandle();
    return stored !== null && (await this.supervisor.driver.adopt(stored)) !== null;
  }

  /**
   * Takes over the process whose own socket reported `pid`: by its stored handle when that names it, else
   * (started before handles were recorded) by the pid. Idempotent.
   */
  async adopt(pid: number): Promise<void> {
    if (this.pid() === pid) return;
    const fromFile = await this.supervisor.driver.adopt(this.readHandle());
    const spec = this.opts.spec();
    const handle =
      fromFile?.pid === pid ? fromFile : processHandleFor(this.opts.id, pid, spec.logs, spec.ports);
    if (handle === null) throw new Error(`${this.opts.name} (pid ${pid}) is gone`);
    await this.supervisor.adopt(handle, { stdout: 0, stderr: 0 }, this.hooks());
    this.last = handle;
    this.wanted = true;
    this.writeHandle(handle);
  }

  /** Starts it and waits until it serves; on failure nothing of it is left running. */
  async start(): Promise<number> {
    this.starting = true;
    try {
      const handle = await this.spawn();
      try {
        await this.ready();
      } catch (err) {
        await this.supervisor.stop(this.opts.id, 0, null, 'SIGKILL');
        throw err;
      }
      this.wanted = true;
      return handle.pid;
    } finally {
      this.starting = false;
    }
  }

  /**
   * Stops it (SIGKILL after graceMs) and keeps it stopped. False when nothing of it was running. The handle file
   * goes first: it is what says "keep this running", to every instance watching the process (tests run several).
   */
  async stop(graceMs: number, fallbackPid: () => Promise<number | null>): Promise<boolean> {
    this.wanted = false;
    const id = this.opts.id;
    let stored: unknown = this.supervisor.handleOf(id) ?? this.readHandle();
    fs.rmSync(this.opts.handleFile, { force: true });
    if (!(stored && (await this.supervisor.driver.adopt(stored)))) {
      // No handle names it (started by an earlier Berth): the pid its own socket reports.
      const pid = await fallbackPid();
      const spec = this.opts.spec();
      stored = pid === null ? null : processHandleFor(id, pid, spec.logs, spec.ports);
    }
    const info = await this.supervisor.stop(id, graceMs, stored, this.opts.stopSignal);
    this.last = null;
    return info !== null;
  }

  private async spawn(): Promise<ProcessHandle> {
    await this.opts.prepare?.();
    const handle = await this.supervisor.start(this.opts.spec(), this.hooks());
    this.last = handle;
    this.writeHandle(handle);
    return handle;
  }

  private ready(): Promise<void> {
    return this.opts.ready(this.supervisor.exited(this.opts.id) ?? Promise.resolve(exitUnknown));
  }

  private hooks() {
    return {
      onExit: (info: ExitInfo) => {
        if (this.starting || !this.wanted) return;
        void this.supervisor.keepRunning(this.opts.id, info, this.plan());
      },
    };
  }

  private plan(): RestartPlan {
    const now = Date.now();
    if (now - this.lastCrash > CALM_MS) this.restarts = 0;
    this.lastCrash = now;
    const { name, log } = this.opts;
    return {
      name,
      policy: { type: 'ALWAYS', maxRetries: Number.POSITIVE_INFINITY },
      restarts: this.restarts,
      // What a dead leader leaves in its group (HAProxy workers holding the ports) goes before a new one starts.
      down: async () => {
        if (this.last && this.isWanted()) await this.supervisor.driver.stop(this.last, { graceMs: 0 });
      },
      restarting: (n) => {
        this.restarts = n;
      },
      wanted: () => this.isWanted(),
      respawn: async () => {
        // Another instance watching the same process may have restarted it already: follow that one.
        const other = await this.supervisor.driver.adopt(this.readHandle());
        if (other === null) await this.spawn();
        else this.last = await this.supervisor.adopt(other, { stdout: 0, stderr: 0 }, this.hooks());
      },
      gate: () => this.ready(),
      healthy: () => this.opts.healthy(),
      settled: (_failed, message) => log('warn', message),
      log,
      isReportable: () => true,
    };
  }

  /** Still to be kept running: nobody stopped it, here or through another instance (its handle file is gone). */
  private isWanted(): boolean {
    return this.wanted && fs.existsSync(this.opts.handleFile);
  }

  private readHandle(): unknown {
    try {
      return JSON.parse(fs.readFileSync(this.opts.handleFile, 'utf8'));
    } catch {
      return null;
    }
  }

  private writeHandle(h: ProcessHandle): void {
    fs.mkdirSync(path.dirname(this.opts.handleFile), { recursive: true });
    writeFileAtomic(this.opts.handleFile, `${JSON.stringify(h)}\n`);
  }
}

const exitUnknown: ExitInfo = { code: null, signal: null };
