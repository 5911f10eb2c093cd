/**
 * The daemon's handle on the edge process: adopt or spawn it (detached, so it outlives the daemon),
 * push routing tables, read stats, wait for drained targets, stop it. Talks HTTP over DIR/control.sock.
 */

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { delay } from '../lib/wait.js';
import type { WorkloadSpec } from '../runtime/driver.js';
import { describeExit, type Supervisor } from '../runtime/supervisor.js';
import type { ExitInfo, ProcessHandle } from '../runtime/types.js';
import { type AccessLogEntry, accessLogFiles } from './access-log.js';
import { type HttpLogQuery, searchAccessLog } from './access-log-search.js';
import type { EdgeStats } from './balancer.js';
import { type EdgeDriver, type EdgeLog, otherPortsError, pollIdle } from './driver.js';
import { EdgeWorkload } from './edge-workload.js';
import { LOG_FORMAT_ID } from './haproxy/log-format.js';
import { type EdgeMetrics, type ServiceNames, serviceLogKey } from './metrics.js';
import { builtinEdgeEnv } from './process-env.js';
import type { RoutingTable } from './routing-table.js';
import {
  CONTROL_SOCKET,
  HANDLE_FILE,
  LOG_FILE,
  PID_FILE,
  ROUTES_FILE,
  writeRoutingTable,
} from './table-file.js';

export interface EdgeHealth {
  ok: boolean;
  pid: number;
  version: number;
  port: number;
  /** null when the edge serves no HTTPS. */
  httpsPort?: number | null;
  host: string;
  /** The HAProxy request log format it parses (LOG_FORMAT_ID), when it reads one. */
  haproxyLog?: string;
}

export interface EdgeProcessOptions {
  stateDir: string;
  port: number;
  /** Also serve HTTPS here (certificates from DIR/certs, by SNI). */
  httpsPort?: number | null;
  host?: string;
  /** Script to run with node. Default: dist/edge/main.js next to this module (or under dist/ when run from src/). */
  entry?: string;
  /** How long ensureRunning waits for a freshly spawned edge to answer /health. Default 10 s. */
  startTimeoutMs?: number;
  /** Size at which a service's access log file is rotated (edge default: 16 MiB). */
  accessLogMaxBytes?: number;
  /** HAProxy's helper: also record the requests HAProxy logs to this FIFO (its stdout). */
  haproxyLogFifo?: string | null;
  /** In restart messages; default "the edge". */
  name?: string;
  /** Also tell the daemon's log when the edge crashed and was restarted (edge.log always gets it). */
  log?: EdgeLog;
  /** Default: one of its own, over a ProcessDriver. */
  supervisor?: Supervisor<ProcessHandle>;
}

/**
 * V8 flags for the edge process, which must stay small while idle (it runs next to the daemon for good):
 * - a 2 MB semi-space caps the young generation at a few MB instead of letting it grow to ~32 MB under load
 *   (V8 never shrinks it back on its own); measured: +0.1 µs of scavenging per proxied request;
 * - `gc` exposed so main.ts can run one full GC once traffic stops, which returns freed pages to the OS;
 * - GC on the main thread only: V8's helper threads (parallel scavenges every few ms under load, concurrent
 *   marking) cost more than they save when the edge shares its cores with the apps. Measured under wrk -c50
 *   on 2 cores, interleaved: ~10-15 % less edge CPU per proxied request and ~15-20 % per cache hit (callgrind:
 *   the helper threads ran 55k instructions per proxied request, 32k without, main thread unchanged).
 */
export const EDGE_NODE_FLAGS = ['--max-semi-space-size=2', '--expose-gc', '--single-threaded-gc'];

function defaultEntry(): string {
  const here = fileURLToPath(new URL('./main.js', import.meta.url));
  if (fs.existsSync(here)) return here;
  // Running from src/ (vitest, tsx): use the compiled entry.
  return fileURLToPath(new URL('../../dist/edge/main.js', import.meta.url));
}

/** One control API call over the unix socket; JSON in, JSON out. */
function control<T>(socketPath: string, method: string, urlPath: string, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath, method, path: urlPath, agent: false, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            return reject(new Error(`edge control ${method} ${urlPath}: bad answer ${JSON.stringify(text)}`));
          }
          if (res.statusCode !== 200) {
            const msg = (body as { error?: string } | null)?.error ?? `HTTP ${res.statusCode}`;
            return reject(new Error(`edge control ${method} ${urlPath}: ${msg}`));
          }
          resolve(body as T);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'the edge is not running' : err.message;
      reject(
        Object.assign(new Error(`edge control ${method} ${urlPath} on ${socketPath}: ${why}`), {
          code: err.code,
        }),
      );
    });
    req.end();
  });
}

export class EdgeProcess implements EdgeDriver {
  readonly kind = 'builtin' as const;
  readonly stateDir: string;
  readonly port: number;
  readonly httpsPort: number | null;
  readonly host: string;
  readonly entry: string;
  private readonly startTimeoutMs: number;
  private readonly accessLogMaxBytes: number | null;
  private readonly haproxyLogFifo: string | null;
  private readonly workload: EdgeWorkload;
  /** The table the daemon last asked for: applied again to an edge restarted after a crash. */
  private wanted: RoutingTable | null = null;
  private applying: Promise<unknown> = Promise.resolve();

  constructor(opts: EdgeProcessOptions) {
    this.stateDir = path.resolve(opts.stateDir);
    this.port = opts.port;
    this.httpsPort = opts.httpsPort ?? null;
    this.host = opts.host ?? '0.0.0.0';
    this.entry = opts.entry ?? defaultEntry();
    this.startTimeoutMs = opts.startTimeoutMs ?? 10_000;
    this.accessLogMaxBytes = opts.accessLogMaxBytes ?? null;
    this.haproxyLogFifo = opts.haproxyLogFifo ?? null;
    const name = opts.name ?? 'the edge';
    this.workload = new EdgeWorkload({
      id: `edge ${this.stateDir}`,
      name,
      handleFile: path.join(this.stateDir, HANDLE_FILE),
      spec: () => this.spec(),
      ready: (exited) => this.ready(exited),
      healthy: async () => {
        if (this.wanted !== null) await this.apply(this.wanted);
      },
      log: (level, message) => {
        this.note(message);
        opts.log?.(level, message);
      },
      supervisor: opts.supervisor,
    });
  }

  get socketPath(): string {
    return path.join(this.stateDir, CONTROL_SOCKET);
  }

  get pidFile(): string {
    return path.join(this.stateDir, PID_FILE);
  }

  get routesFile(): string {
    return path.join(this.stateDir, ROUTES_FILE);
  }

  get logFile(): string {
    return path.join(this.stateDir, LOG_FILE);
  }

  pid(): number | null {
    return this.workload.pid();
  }

  health(timeoutMs = 2000): Promise<EdgeHealth> {
    return control<EdgeHealth>(this.socketPath, 'GET', '/health', timeoutMs);
  }

  /**
   * Adopts a running edge (its control socket answers /health) or starts a new one detached (own process group,
   * stdio to DIR/edge.log) under the Supervisor, which restarts it should it crash. Returns the pid.
   */
  async ensureRunning(): Promise<number> {
    const adopted = await this.findRunning();
    if (adopted !== null) {
      this.refuseOtherPorts(adopted);
      if (this.haproxyLogFifo === null || adopted.haproxyLog === LOG_FORMAT_ID) {
        await this.workload.adopt(adopted.pid);
        return adopted.pid;
      }
      // Started by another Berth (an upgrade): it parses another HAProxy request log format, and its counts and
      // access logs would stop. Started afresh.
      this.note('restarting the edge, which reads another HAProxy request log format');
      await this.stop(5000);
    }
    fs.mkdirSync(this.stateDir, { recursive: true });
    return this.workload.start();
  }

  /** The edge's program: node with the edge's flags, its state dir and ports. */
  private spec(): WorkloadSpec {
    return {
      id: `edge ${this.stateDir}`,
      argv: [
        process.execPath,
        ...EDGE_NODE_FLAGS,
        this.entry,
        '--state-dir',
        this.stateDir,
        '--port',
        String(this.port),
        '--host',
        this.host,
        ...(this.httpsPort === null ? [] : ['--https-port', String(this.httpsPort)]),
        ...(this.accessLogMaxBytes === null
          ? []
          : ['--access-log-max-bytes', String(this.accessLogMaxBytes)]),
        ...(this.haproxyLogFifo === null ? [] : ['--haproxy-log-fifo', this.haproxyLogFifo]),
      ],
      cwd: this.stateDir,
      env: builtinEdgeEnv(process.env),
      logs: { stdout: this.logFile, stderr: this.logFile },
      ports: { http: this.port, ...(this.httpsPort === null ? {} : { https: this.httpsPort }) },
    };
  }

  /** The gate of a start: /health answers; throws when the process exits first or takes too long. */
  private async ready(exited: Promise<ExitInfo>): Promise<void> {
    let exit: ExitInfo | null = null;
    void exited.then((info) => {
      exit = info;
    });
    const deadline = Date.now() + this.startTimeoutMs;
    for (;;) {
      if ((await this.health(1000).catch(() => null)) !== null) return;
      if (exit !== null) {
        // Its last line (the reason) first, where one-line error reports keep it; then the log.
        const tail = this.logTail();
        const last =
          tail
            .trimEnd()
            .split('\n')
            .at(-1)
            ?.replace(/^\S+ edge\[\d+\] /, '') || `see ${this.logFile}`;
        throw new Error(`the edge ${describeExit(exit)} while starting: ${last}\n${tail}`);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `the edge did not answer on ${this.socketPath} within ${this.startTimeoutMs} ms:\n${this.logTail()}`,
        );
      }
      await delay(25);
    }
  }

  /** Writes routes.json atomically, then POST /reload; resolves once the edge reports this version. */
  apply(table: RoutingTable): Promise<void> {
    this.wanted = table;
    // One at a time: a restarted edge's table (healthy()) must not interleave with the daemon's next one.
    const next = this.applying.then(() => this.applyNow(table));
    this.applying = next.catch(() => undefined);
    return next;
  }

  private async applyNow(table: RoutingTable): Promise<void> {
    await writeRoutingTable(this.routesFile, table);
    for (let attempt = 0; ; attempt++) {
      const { version } = await control<{ version: number }>(this.socketPath, 'POST', '/reload');
      if (version >= table.version) return;
      // Someone rewrote routes.json with an older table in between; ours is what the caller wants.
      if (attempt >= 2) {
        throw new Error(`edge reports routing table version ${version}, expected ${table.version}`);
      }
      await writeRoutingTable(this.routesFile, table);
    }
  }

  stats(): Promise<EdgeStats> {
    return control<EdgeStats>(this.socketPath, 'GET', '/stats');
  }

  metrics(): Promise<EdgeMetrics> {
    return control<EdgeMetrics>(this.socketPath, 'GET', '/metrics');
  }

  /** Asks the edge to write its buffered lines (so the answer includes the last requests), then searches the files. */
  async httpLogs(service: ServiceNames, query: HttpLogQuery): Promise<AccessLogEntry[]> {
    await control<{ ok: boolean }>(this.socketPath, 'POST', '/access-log/flush').catch(() => {
      // A stopped edge has nothing buffered: what it wrote is all there is.
    });
    return searchAccessLog(accessLogFiles(this.stateDir, serviceLogKey(service)), query);
  }

  async removeHttpLogs(service: ServiceNames): Promise<void> {
    for (const f of accessLogFiles(this.stateDir, serviceLogKey(service)))
      await fs.promises.rm(f, { force: true });
  }

  /** Resolves true when none of targetIds has requests/tunnels in flight (polls /stats); false after timeoutMs. */
  waitIdle(targetIds: string[], timeoutMs: number): Promise<boolean> {
    return pollIdle(
      () => this.stats(),
      targetIds,
      timeoutMs,
      () => this.pid() === null,
    );
  }

  /** SIGTERMs the edge's group (it finishes in-flight requests) and waits for it to exit; SIGKILL after timeoutMs. */
  async stop(timeoutMs = 35_000): Promise<void> {
    await this.workload.stop(timeoutMs, async () => (await this.health(1000).catch(() => null))?.pid ?? null);
  }

  /** A running edge keeps its ports (otherPortsError). */
  private refuseOtherPorts(h: EdgeHealth): void {
    if (h.port !== this.port || (h.httpsPort ?? null) !== this.httpsPort) {
      throw otherPortsError(
        `An edge (pid ${h.pid})`,
        this.stateDir,
        { http: h.port, https: h.httpsPort ?? null },
        { http: this.port, https: this.httpsPort },
      );
    }
  }

  /** The running edge's health, or null. Waits a little for an edge whose process is alive but not answering yet. */
  private async findRunning(): Promise<EdgeHealth | null> {
    const h = await this.health(1000).catch(() => null);
    if (h !== null) return h;
    if (!(await this.workload.storedAlive())) return null;
    // Alive but silent socket: an edge still starting.
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline && (await this.workload.storedAlive())) {
      await delay(50);
      const again = await this.health(500).catch(() => null);
      if (again !== null) return again;
    }
    return null;
  }

  /** A line of Berth's own in edge.log. */
  private note(message: string): void {
    try {
      fs.mkdirSync(this.stateDir, { recursive: true });
      fs.appendFileSync(this.logFile, `${new Date().toISOString()} berth: ${message}\n`);
    } catch {
      // The message also went to the daemon's log when it asked for it.
    }
  }

  private logTail(): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').split('\n').slice(-20).join('\n');
    } catch {
      return '(no edge.log)';
    }
  }
}
