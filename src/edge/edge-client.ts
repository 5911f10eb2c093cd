/**
 * The daemon's handle on the edge process: adopt or spawn it (detached, so it outlives the daemon),
 * push routing tables, read stats, wait for drained targets, stop it. Talks HTTP over DIR/control.sock.
 */

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { processAlive, readPidFile } from '../lib/pid-file.js';
import { stopGroup } from '../runtime/stop-group.js';
import { type AccessLogEntry, accessLogFiles } from './access-log.js';
import { type HttpLogQuery, searchAccessLog } from './access-log-search.js';
import type { EdgeStats } from './balancer.js';
import { type EdgeDriver, otherPortsError, pollIdle } from './driver.js';
import { LOG_FORMAT_ID } from './haproxy/log-format.js';
import { type EdgeMetrics, type ServiceNames, serviceLogKey } from './metrics.js';
import { builtinEdgeEnv } from './process-env.js';
import type { RoutingTable } from './routing-table.js';
import { CONTROL_SOCKET, LOG_FILE, PID_FILE, ROUTES_FILE, writeRoutingTable } from './table-file.js';

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

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
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
  private currentPid: number | null = null;

  constructor(opts: EdgeProcessOptions) {
    this.stateDir = path.resolve(opts.stateDir);
    this.port = opts.port;
    this.httpsPort = opts.httpsPort ?? null;
    this.host = opts.host ?? '0.0.0.0';
    this.entry = opts.entry ?? defaultEntry();
    this.startTimeoutMs = opts.startTimeoutMs ?? 10_000;
    this.accessLogMaxBytes = opts.accessLogMaxBytes ?? null;
    this.haproxyLogFifo = opts.haproxyLogFifo ?? null;
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
    return this.currentPid;
  }

  health(timeoutMs = 2000): Promise<EdgeHealth> {
    return control<EdgeHealth>(this.socketPath, 'GET', '/health', timeoutMs);
  }

  /**
   * Adopts a running edge (its control socket answers /health) or spawns a new one detached
   * (own process group, unref'd, stdio to DIR/edge.log) and waits until /health answers. Returns the pid.
   */
  async ensureRunning(): Promise<number> {
    const adopted = await this.findRunning();
    if (adopted !== null) {
      const pid = this.adopt(adopted);
      if (this.haproxyLogFifo === null || adopted.haproxyLog === LOG_FORMAT_ID) return pid;
      // Started by another Berth (an upgrade): it parses another HAProxy request log format, and its counts and
      // access logs would stop. Started afresh.
      fs.appendFileSync(
        this.logFile,
        `${new Date().toISOString()} berth: restarting the edge, which reads another HAProxy request log format\n`,
      );
      await this.stop(5000);
    }

    fs.mkdirSync(this.stateDir, { recursive: true });
    const logFd = fs.openSync(this.logFile, 'a');
    let exit: string | null = null;
    let childPid: number | undefined;
    try {
      const child = spawn(
        process.execPath,
        [
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
        {
          detached: true,
          stdio: ['ignore', logFd, logFd],
          cwd: this.stateDir,
          env: builtinEdgeEnv(process.env),
        },
      );
      childPid = child.pid;
      child.once('exit', (code, signal) => {
        exit = signal ? `signal ${signal}` : `code ${code}`;
      });
      child.once('error', (err) => {
        exit = err.message;
      });
      child.unref();
    } finally {
      fs.closeSync(logFd);
    }

    const deadline = Date.now() + this.startTimeoutMs;
    for (;;) {
      const h = await this.health(1000).catch(() => null);
      if (h !== null) return this.adopt(h); // normally our child; another starter's edge if we raced
      if (exit !== null) {
        throw new Error(`edge (pid ${childPid}) exited with ${exit} while starting:\n${this.logTail()}`);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `edge (pid ${childPid}) did not answer on ${this.socketPath} within ${this.startTimeoutMs} ms:\n${this.logTail()}`,
        );
      }
      await sleep(25);
    }
  }

  /** Writes routes.json atomically, then POST /reload; resolves once the edge reports this version. */
  async apply(table: RoutingTable): Promise<void> {
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
      () => {
        const pid = this.currentPid ?? this.readPidFile();
        return pid === null || !processAlive(pid);
      },
    );
  }

  /** SIGTERMs the edge's group (it finishes in-flight requests) and waits for it to exit; SIGKILL after timeoutMs. */
  async stop(timeoutMs = 35_000): Promise<void> {
    let pid = this.currentPid ?? this.readPidFile();
    if (pid === null || !processAlive(pid)) {
      pid = (await this.health(1000).catch(() => null))?.pid ?? null;
    }
    if (pid === null || !processAlive(pid)) {
      this.currentPid = null;
      return;
    }
    await stopGroup(pid, { graceMs: timeoutMs });
    this.currentPid = null;
  }

  private adopt(h: EdgeHealth): number {
    if (h.port !== this.port || (h.httpsPort ?? null) !== this.httpsPort) {
      throw otherPortsError(
        `An edge (pid ${h.pid})`,
        this.stateDir,
        { http: h.port, https: h.httpsPort ?? null },
        { http: this.port, https: this.httpsPort },
      );
    }
    this.currentPid = h.pid;
    return h.pid;
  }

  /** The running edge's health, or null. Waits a little for an edge whose pid is alive but not answering yet. */
  private async findRunning(): Promise<EdgeHealth | null> {
    const h = await this.health(1000).catch(() => null);
    if (h !== null) return h;
    const pid = this.readPidFile();
    if (pid === null || !processAlive(pid)) return null;
    // Alive pid but silent socket: an edge still starting, or an unrelated process that reused the pid.
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline && processAlive(pid)) {
      await sleep(50);
      const again = await this.health(500).catch(() => null);
      if (again !== null) return again;
    }
    return null;
  }

  private readPidFile(): number | null {
    return readPidFile(this.pidFile);
  }

  private logTail(): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').split('\n').slice(-20).join('\n');
    } catch {
      return '(no edge.log)';
    }
  }
}
