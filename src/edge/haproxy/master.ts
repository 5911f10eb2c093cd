/**
 * HAProxy's master process as a supervised workload: its argv, its request log FIFO, the gate "a worker serves
 * the stats socket", hitless reloads through the master CLI. The driver (driver.ts) decides what it serves.
 */

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { delay } from '../../lib/wait.js';
import type { WorkloadSpec } from '../../runtime/driver.js';
import { describeExit, type Supervisor } from '../../runtime/supervisor.js';
import type { ExitInfo, ProcessHandle } from '../../runtime/types.js';
import type { EdgeLog } from '../driver.js';
import { EdgeWorkload } from '../edge-workload.js';
import { haproxyEnv } from '../process-env.js';
import { CONFIG_FILE, LOG_FILE, MASTER_SOCKET, PID_FILE, REQUEST_LOG_FIFO, STATS_SOCKET } from './config.js';
import { type ProcList, parseShowProc, runtimeCommand } from './runtime-api.js';

/** The daemon's record of the master it runs (ProcessDriver's handle), next to HAProxy's own pid file. */
export const HANDLE_FILE = 'haproxy.handle.json';

export interface HaproxyMasterOptions {
  /** DIR/edge/haproxy. */
  dir: string;
  binary: string;
  /** How long a start or a reload may take. */
  startTimeoutMs: number;
  /** Before every start: write the configuration it loads (and start what it forwards to). */
  prepare(): Promise<void>;
  /** After a restart: give it the current routing table. */
  healthy(): Promise<void>;
  log?: EdgeLog;
  supervisor?: Supervisor<ProcessHandle>;
}

export class HaproxyMaster {
  private readonly workload: EdgeWorkload;

  constructor(private readonly opts: HaproxyMasterOptions) {
    this.workload = new EdgeWorkload({
      id: `haproxy ${opts.dir}`,
      name: 'HAProxy',
      handleFile: this.file(HANDLE_FILE),
      spec: () => this.spec(),
      prepare: async () => {
        await this.ensureFifo();
        await opts.prepare();
      },
      ready: (exited) => this.ready(exited),
      healthy: opts.healthy,
      log: (level, message) => {
        this.note(message);
        opts.log?.(level, message);
      },
      stopSignal: 'SIGUSR1',
      supervisor: opts.supervisor,
    });
  }

  file(name: string): string {
    return path.join(this.opts.dir, name);
  }

  pid(): number | null {
    return this.workload.pid();
  }

  /** The master's process list (pids, reload count); throws when no master answers. */
  procList(timeoutMs = 2000): Promise<ProcList> {
    return runtimeCommand(this.file(MASTER_SOCKET), 'show proc', timeoutMs).then(parseShowProc);
  }

  /** A running master for this dir, or null. Waits a little for one whose process is alive but not answering yet. */
  async findRunning(): Promise<ProcList | null> {
    const procs = await this.procList(1000).catch(() => null);
    if (procs !== null) return procs;
    if (!(await this.workload.storedAlive())) return null;
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline && (await this.workload.storedAlive())) {
      await delay(50);
      const again = await this.procList(500).catch(() => null);
      if (again !== null) return again;
    }
    return null;
  }

  adopt(pid: number): Promise<void> {
    return this.workload.adopt(pid);
  }

  /** Starts the master (after `prepare`) and waits until a worker serves; supervised from then on. */
  start(): Promise<number> {
    return this.workload.start();
  }

  /** Soft stop (SIGUSR1: workers finish what is in flight, then the master exits); SIGKILL after graceMs. */
  async stop(graceMs: number): Promise<void> {
    await this.workload.stop(
      graceMs,
      async () => (await this.procList(1000).catch(() => null))?.master.pid ?? null,
    );
  }

  /** Has the master load haproxy.cfg again (written by the caller); resolves once the new worker serves. */
  async reload(): Promise<void> {
    const before = await this.procList();
    // The master re-executes itself (same pid) and closes the connection; success shows in `show proc`.
    await runtimeCommand(this.file(MASTER_SOCKET), 'reload', 2000).catch(() => '');
    const deadline = Date.now() + this.opts.startTimeoutMs;
    for (;;) {
      const procs = await this.procList(1000).catch(() => null);
      if (procs !== null) {
        if (procs.master.failedReloads > before.master.failedReloads) {
          throw new Error(`HAProxy refused the new configuration:\n${this.logTail()}`);
        }
        const worker = procs.workers[0];
        if (
          procs.master.reloads > before.master.reloads &&
          worker !== undefined &&
          !before.workers.includes(worker) &&
          (await this.statsAnswers(worker))
        ) {
          return;
        }
      }
      if (Date.now() > deadline) {
        throw new Error(
          `HAProxy did not finish reloading within ${this.opts.startTimeoutMs} ms:\n${this.logTail()}`,
        );
      }
      await delay(25);
    }
  }

  /** True when HAProxy's stdout is the request log FIFO the helper reads. */
  writesToFifo(pid: number): boolean {
    let out: fs.Stats;
    try {
      out = fs.statSync(`/proc/${pid}/fd/1`);
    } catch {
      // No /proc entry to read (the process just left): nothing to fix.
      return true;
    }
    // Compared by inode: the path HAProxy opened may differ (a symlinked data dir) while the FIFO is the same.
    const fifo = fs.statSync(this.file(REQUEST_LOG_FIFO), { throwIfNoEntry: false });
    return fifo !== undefined && out.dev === fifo.dev && out.ino === fifo.ino;
  }

  /** The FIFO HAProxy writes its request log lines to (kept across restarts: the helper holds it open). */
  async ensureFifo(): Promise<string> {
    const fifo = this.file(REQUEST_LOG_FIFO);
    const st = fs.statSync(fifo, { throwIfNoEntry: false });
    if (st?.isFIFO()) return fifo;
    if (st !== undefined) fs.rmSync(fifo, { force: true });
    fs.mkdirSync(this.opts.dir, { recursive: true });
    // Node has no mkfifo(3); coreutils' mkfifo is on every system HAProxy runs on.
    await new Promise<void>((resolve, reject) => {
      execFile('mkfifo', ['-m', '600', fifo], { timeout: 10_000 }, (err, _out, stderr) => {
        if (err) reject(new Error(`cannot create ${fifo}: ${stderr.trim() || err.message}`));
        else resolve();
      });
    });
    return fifo;
  }

  /** A line of Berth's own in haproxy.log. */
  note(message: string): void {
    try {
      fs.mkdirSync(this.opts.dir, { recursive: true });
      fs.appendFileSync(this.file(LOG_FILE), `${new Date().toISOString()} berth: ${message}\n`);
    } catch {
      // The message also went to the daemon's log when it asked for it.
    }
  }

  logTail(): string {
    try {
      return fs.readFileSync(this.file(LOG_FILE), 'utf8').split('\n').slice(-20).join('\n');
    } catch {
      return '(no haproxy.log)';
    }
  }

  /** HAProxy's own reasons (its ALERT lines) on the first line, where one-line error reports keep them; then the log. */
  private startFailure(): string {
    const tail = this.logTail();
    const alerts = tail
      .split('\n')
      .filter((l) => l.includes('[ALERT]'))
      .map((l) => l.replace(/^.*\[ALERT\]\s*(\(\d+\))?\s*:\s*/, ''));
    return `${alerts.length > 0 ? alerts.join('; ') : `see ${this.file(LOG_FILE)}`}\n${tail}`;
  }

  /** Master-worker mode; stdout carries the request log lines (`log stdout`), stderr HAProxy's own messages. */
  private spec(): WorkloadSpec {
    return {
      id: `haproxy ${this.opts.dir}`,
      argv: [
        this.opts.binary,
        '-W',
        '-S',
        `${this.file(MASTER_SOCKET)},mode,600`,
        '-f',
        this.file(CONFIG_FILE),
        '-p',
        this.file(PID_FILE),
      ],
      cwd: this.opts.dir,
      env: haproxyEnv(process.env),
      logs: { stdout: this.file(REQUEST_LOG_FIFO), stderr: this.file(LOG_FILE) },
    };
  }

  /** The gate of a start: a worker of this master serves the stats socket. */
  private async ready(exited: Promise<ExitInfo>): Promise<void> {
    let exit: ExitInfo | null = null;
    void exited.then((info) => {
      exit = info;
    });
    const deadline = Date.now() + this.opts.startTimeoutMs;
    for (;;) {
      const procs = await this.procList(1000).catch(() => null);
      if (procs !== null && procs.workers.length > 0 && (await this.statsAnswers(procs.workers[0]))) return;
      if (exit !== null)
        throw new Error(`HAProxy ${describeExit(exit)} while starting: ${this.startFailure()}`);
      if (Date.now() > deadline) {
        throw new Error(`HAProxy did not start within ${this.opts.startTimeoutMs} ms:\n${this.logTail()}`);
      }
      await delay(25);
    }
  }

  /** True when the stats socket is served by worker `pid`. */
  private async statsAnswers(pid: number): Promise<boolean> {
    const info = await runtimeCommand(this.file(STATS_SOCKET), 'show info', 1000).catch(() => '');
    return new RegExp(`^Pid: ${pid}$`, 'm').test(info);
  }
}
