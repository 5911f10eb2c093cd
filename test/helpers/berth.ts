import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { removeHostsBlock } from '../../src/lib/hosts-file.js';
import { freePort } from '../../src/lib/net.js';
import { waitFor } from '../../src/lib/wait.js';
import { killGroup, makeTmpDir } from './tmp.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
export const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'apps');

/**
 * A project name no other run on this machine uses, for tests whose names land in the shared /etc/hosts: a run
 * killed before its cleanup leaves its block there, and a later run with the same name would resolve to it.
 */
export function uniqueProject(prefix: string): string {
  return `${prefix}${process.pid.toString(36)}${randomBytes(3).toString('hex')}`;
}

export interface DeploymentRow {
  id: string;
  status: string;
  createdAt: string;
  reason: string | null;
  gitSha?: string | null;
  gitBranch?: string | null;
  gitMessage?: string | null;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A real `berth server` in its own temp data dir on free ports, with a CLI runner bound to it.
 * stop() ends the daemon, the edge and every app process it started, by PID.
 */
export class BerthHarness {
  dir!: string;
  dataDir!: string;
  apiPort!: number;
  httpPort!: number;
  httpsPort!: number;
  token!: string;
  daemon: ChildProcess | null = null;
  private cleanup!: () => void;

  get url() {
    return `http://127.0.0.1:${this.apiPort}`;
  }

  /** The CLI entry point `berth server` and `cli()` run: another Berth's build for upgrade tests. */
  cliEntry = CLI;

  /** Extra `berth server` flags for every start of this harness's daemon. */
  serverArgs: string[] = [];

  /** Extra environment variables for every start of this harness's daemon (limits, timeouts). */
  daemonEnv: Record<string, string> = {};

  /**
   * The hosts file the daemon keeps private domains in: a scratch file unless a test sets '/etc/hosts'
   * to have apps resolve them (its block is removed again by stop()).
   */
  hostsFile = '';

  async start(): Promise<this> {
    const t = makeTmpDir('berth-it-');
    this.dir = t.dir;
    this.cleanup = t.cleanup;
    this.dataDir = path.join(this.dir, 'data');
    this.apiPort = await freePort();
    this.httpPort = await freePort();
    this.httpsPort = await freePort();
    if (this.hostsFile === '') this.hostsFile = path.join(this.dir, 'hosts');
    // A free port can be taken by another test's process before the daemon binds it (the pick and the bind are
    // apart): a first start that lost its API or edge port that way tries others. Later starts keep their ports.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.startDaemon();
        return this;
      } catch (err) {
        const lostApi = /The API could not listen on .*EADDRINUSE/.test(String(err));
        const lostEdge = /could not start on port .*in use/i.test(String(err));
        if ((!lostApi && !lostEdge) || attempt === 3) throw err;
        if (lostApi) this.apiPort = await freePort();
        if (lostEdge) {
          this.httpPort = await freePort();
          this.httpsPort = await freePort();
        }
      }
    }
  }

  async startDaemon(env: Record<string, string> = {}): Promise<void> {
    const log = fs.openSync(path.join(this.dir, 'server.log'), 'a');
    this.daemon = spawn(
      process.execPath,
      [
        this.cliEntry,
        'server',
        '--data-dir',
        this.dataDir,
        '--api-port',
        String(this.apiPort),
        '--http-port',
        String(this.httpPort),
        '--https-port',
        String(this.httpsPort),
        ...this.serverArgs,
      ],
      {
        stdio: ['ignore', log, log],
        detached: true,
        env: {
          ...process.env,
          BERTH_HOSTS_FILE: this.hostsFile,
          // A scratch hosts file cannot see other daemons' claims: keep their private nets away from 127.77,
          // which a test using the real /etc/hosts claims.
          ...(this.hostsFile === '/etc/hosts'
            ? {}
            : { BERTH_PRIVATE_NET: `127.${100 + Math.floor(Math.random() * 150)}` }),
          ...this.daemonEnv,
          ...env,
        },
      },
    );
    fs.closeSync(log);
    const daemon = this.daemon;
    // A daemon that refuses to start fails the wait at once, with its log as the reason.
    const exited = new Promise<never>((_, reject) =>
      daemon.once('exit', () => reject(new Error(`server exited: ${this.serverLog()}`))),
    );
    exited.catch(() => undefined);
    await Promise.race([
      exited,
      waitFor(
        'berth server to answer /v1/health',
        async () => {
          const res = await request(`${this.url}/v1/health`);
          await res.body.dump();
          // Another test's server may hold the port we picked: ours has written its admin token by then.
          return res.statusCode === 200 && fs.existsSync(path.join(this.dataDir, 'admin-token'));
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      ),
    ]);
    this.token = fs.readFileSync(path.join(this.dataDir, 'admin-token'), 'utf8').trim();
  }

  serverLog(): string {
    try {
      return fs.readFileSync(path.join(this.dir, 'server.log'), 'utf8');
    } catch {
      return '';
    }
  }

  /** Stops the daemon with SIGTERM (apps and the edge keep running). */
  async stopDaemon(): Promise<void> {
    const d = this.daemon;
    if (!d || d.exitCode !== null) return;
    const gone = new Promise((r) => d.once('exit', r));
    d.kill('SIGTERM');
    await gone;
  }

  /** Kills the daemon the hard way (kill -9), leaving the edge and apps running. */
  async killDaemon(): Promise<void> {
    const d = this.daemon;
    if (!d || d.exitCode !== null) return;
    const gone = new Promise((r) => d.once('exit', r));
    d.kill('SIGKILL');
    await gone;
  }

  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      ...(process.env as Record<string, string>),
      BERTH_URL: this.url,
      BERTH_TOKEN: this.token,
      BERTH_CLI_CONFIG: path.join(this.dir, 'cli.json'),
      BERTH_NO_AUTOSTART: '1',
      NO_COLOR: '1',
      ...extra,
    };
  }

  /** Runs `berth ARGS` to completion. */
  cli(
    args: string[],
    opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<CliResult> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [this.cliEntry, ...args],
        {
          cwd: opts.cwd ?? this.dir,
          env: this.env(opts.env),
          timeout: opts.timeoutMs ?? 180_000,
          maxBuffer: 64 * 1024 * 1024,
        },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  /** Deployments newest first, once the newest one has a final status (variable changes deploy asynchronously). */
  settledDeployments(scope: string[], timeoutMs = 60_000): Promise<DeploymentRow[]> {
    return waitFor(
      'the latest deployment to finish',
      async () => {
        const list = JSON.parse(
          (await this.cli(['deployments', '--json', ...scope])).stdout,
        ) as DeploymentRow[];
        return ['QUEUED', 'BUILDING', 'DEPLOYING'].includes(list[0]?.status ?? 'QUEUED') ? null : list;
      },
      { timeoutMs, intervalMs: 250 },
    );
  }

  /** Copies a fixture app into the temp dir (so tests can edit it) and returns its path. */
  app(fixture: string, name = fixture): string {
    const dest = path.join(this.dir, 'apps', name);
    fs.cpSync(path.join(FIXTURES, fixture), dest, { recursive: true });
    return dest;
  }

  /** GET through the edge with the service's generated Host. */
  async get(
    host: string,
    p = '/',
  ): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
    // A connection per request: an idle pooled one can be closed by a reload at the moment it is reused (HAProxy
    // 2.6 closes the old worker's idle connections; browsers resend, undici does not), which is not what
    // tests of routing are about.
    const res = await request(`http://127.0.0.1:${this.httpPort}${p}`, { headers: { host }, reset: true });
    return { status: res.statusCode, body: await res.body.text(), headers: res.headers };
  }

  hostFor(service: string, project: string, environment = 'production'): string {
    return `${[service, project, ...(environment === 'production' ? [] : [environment])].join('-')}.localhost`;
  }

  /** Every pid Berth started (edge processes + replicas), from its own state. */
  pids(): number[] {
    const pids: number[] = [];
    // built-in edge, HAProxy's master (its workers share its process group), the static-site helper edge
    for (const f of ['edge.pid', 'haproxy/haproxy.pid', 'haproxy/static/edge.pid']) {
      try {
        pids.push(Number(fs.readFileSync(path.join(this.dataDir, 'edge', f), 'utf8')));
      } catch {
        /* not running */
      }
    }
    try {
      // The object store (buckets), a server-wide workload like the edge.
      const handle = fs.readFileSync(path.join(this.dataDir, 'storage', 'store.handle.json'), 'utf8');
      pids.push(Number((JSON.parse(handle) as { pid?: number }).pid));
    } catch {
      /* never started */
    }
    try {
      const db = new Database(path.join(this.dataDir, 'state.db'), { readonly: true, fileMustExist: true });
      // Workloads' process handles; `instances` in a data dir of an earlier Berth (upgrade tests).
      const hasWorkloads = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'workloads'").get();
      const sql = hasWorkloads
        ? "SELECT json_extract(handle_json, '$.pid') AS pid FROM workloads WHERE handle_json IS NOT NULL"
        : 'SELECT pid FROM instances WHERE pid IS NOT NULL';
      for (const r of db.prepare(sql).all() as { pid: number }[]) pids.push(r.pid);
      db.close();
    } catch {
      /* no state yet */
    }
    return pids.filter((p) => Number.isInteger(p) && p > 0);
  }

  async stop(): Promise<void> {
    if (this.daemon && this.daemon.exitCode === null) {
      const d = this.daemon;
      const gone = new Promise((r) => d.once('exit', r));
      d.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
      if (d.exitCode === null) killGroup(d.pid as number);
    }
    for (const pid of this.pids()) killGroup(pid);
    await removeHostsBlock(this.hostsFile, this.dataDir).catch(() => undefined);
    this.cleanup();
  }
}
