/**
 * What the bench scripts share: a temp dir of their own, real `berth server`s in it (free ports, own hosts file),
 * the CLI pointed at one, and stopping everything they started by pid (process groups), also on failure or a signal.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');

const { freePort } = await import(path.join(ROOT, 'dist', 'lib', 'net.js'));

export { freePort };

export const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);

/** `--name N` from the command line as a number, or the fallback. */
export function numberArg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

/** The middle value; of an even count the upper of the two middle ones (what the committed figures use). */
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export function writeJson(file, value) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** Polls fn until it returns something truthy (a throw counts as not yet); the last error names the cause. */
export async function waitUntil(what, fn, { timeoutMs = 60_000, everyMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError = null;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${lastError ? ` (last: ${lastError.message})` : ''}`);
    }
    await sleep(everyMs);
  }
}

/** A program run to its end; resolves with stdout + stderr, rejects with them on a non-zero exit. */
export function run(argv, extraEnv = {}) {
  return new Promise((resolve, reject) => {
    const c = spawn(argv[0], argv.slice(1), {
      env: { ...process.env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    c.stdout.on('data', (b) => {
      out += b;
    });
    c.stderr.on('data', (b) => {
      out += b;
    });
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${argv.join(' ')}: ${out}`))));
  });
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const signalGroup = (pid, sig) => {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {}
  }
};

/** SIGTERM (or signal) to pid's process group, SIGKILL after graceMs if any of it is still there. */
export async function stopGroup(pid, { signal = 'SIGTERM', graceMs = 10_000 } = {}) {
  try {
    process.kill(-pid, signal);
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    try {
      process.kill(-pid, 0);
    } catch {
      return;
    }
    await sleep(50);
  }
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {}
}

/**
 * A temp dir `$TMPDIR/berth-bench-<name>-*` and what runs in it. cleanup() (also on SIGINT/SIGTERM) stops the
 * servers started by startServer and the process groups passed to track(), then removes the dir.
 */
export function createBench(name) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `berth-bench-${name}-`));
  const servers = [];
  const groups = [];
  let cleaned = null;
  const bench = {
    tmp,
    /** A process group of the script's own (a hand-started engine): stopped at cleanup. */
    track(pid) {
      groups.push(pid);
    },
    /**
     * A daemon with its data dir, log, hosts file and CLI config under the temp dir (suffixed `-<suffix>` when
     * one bench runs several), on free ports; resolves once /v1/health answers.
     */
    async startServer({ suffix = '', args = [] } = {}) {
      const s = suffix ? `-${suffix}` : '';
      const server = await startServer({
        dataDir: path.join(tmp, `data${s}`),
        logFile: path.join(tmp, `server${s}.log`),
        hostsFile: path.join(tmp, `hosts${s}`),
        cliConfig: path.join(tmp, `cli${s}.json`),
        args,
      });
      servers.push(server);
      return server;
    },
    cleanup() {
      cleaned ??= (async () => {
        for (const pid of groups) await stopGroup(pid);
        for (const s of servers) await s.stop();
        fs.rmSync(tmp, { recursive: true, force: true });
      })();
      return cleaned;
    },
  };
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      log(`${sig}: stopping everything the benchmark started`);
      bench.cleanup().finally(() => process.exit(1));
    });
  }
  return bench;
}

async function startServer({ dataDir, logFile, hostsFile, cliConfig, args }) {
  const apiPort = await freePort();
  const httpPort = await freePort();
  const https = args.includes('--no-https') ? [] : ['--https-port', String(await freePort())];
  const out = fs.openSync(logFile, 'a');
  const daemon = spawn(
    process.execPath,
    [
      CLI,
      'server',
      '--data-dir',
      dataDir,
      '--api-port',
      String(apiPort),
      '--http-port',
      String(httpPort),
      ...https,
      ...args,
    ],
    { stdio: ['ignore', out, out], detached: true, env: { ...process.env, BERTH_HOSTS_FILE: hostsFile } },
  );
  daemon.unref();
  fs.closeSync(out);
  const pids = new Set();

  /** The pids of the daemon's edge and of its workloads (replicas, engines, poolers), for the final sweep. */
  const rememberPids = () => {
    for (const f of ['edge.pid', 'haproxy/haproxy.pid', 'haproxy/static/edge.pid']) {
      try {
        const pid = Number(fs.readFileSync(path.join(dataDir, 'edge', f), 'utf8').trim());
        if (Number.isInteger(pid) && pid > 0) pids.add(pid);
      } catch {
        /* not this edge */
      }
    }
    try {
      const db = new Database(path.join(dataDir, 'state.db'), { readonly: true, fileMustExist: true });
      try {
        for (const r of db.prepare('SELECT handle_json FROM workloads WHERE handle_json IS NOT NULL').all()) {
          const pid = JSON.parse(r.handle_json)?.pid;
          if (Number.isInteger(pid) && pid > 0) pids.add(pid);
        }
      } finally {
        db.close();
      }
    } catch {
      /* no state yet */
    }
  };

  /** The product's own `server stop --all`, then by process group whatever it left (or a daemon that hung). */
  const stop = async () => {
    rememberPids();
    try {
      execFileSync(process.execPath, [CLI, 'server', 'stop', '--all', '--data-dir', dataDir], {
        stdio: 'ignore',
        timeout: 120_000,
      });
    } catch {}
    if (daemon.exitCode === null && daemon.signalCode === null) {
      daemon.kill('SIGTERM');
      for (let i = 0; i < 100 && daemon.exitCode === null && daemon.signalCode === null; i++) await sleep(50);
      if (daemon.exitCode === null && daemon.signalCode === null) signalGroup(daemon.pid, 'SIGKILL');
    }
    for (const p of pids) if (alive(p)) signalGroup(p, 'SIGINT');
    const deadline = Date.now() + 15_000;
    while ([...pids].some(alive) && Date.now() < deadline) await sleep(50);
    for (const p of pids) if (alive(p)) signalGroup(p, 'SIGKILL');
  };

  const tail = () => {
    try {
      return fs.readFileSync(logFile, 'utf8').slice(-2000);
    } catch {
      return '';
    }
  };
  for (let i = 0; ; i++) {
    if (daemon.exitCode !== null) throw new Error(`berth server exited: ${tail()}`);
    try {
      if ((await fetch(`http://127.0.0.1:${apiPort}/v1/health`)).ok) break;
    } catch {}
    if (i > 1200) {
      await stop();
      throw new Error(`the server did not answer /v1/health within 60 s: ${tail()}`);
    }
    await sleep(50);
  }
  const env = {
    ...process.env,
    BERTH_URL: `http://127.0.0.1:${apiPort}`,
    BERTH_TOKEN: fs.readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim(),
    BERTH_CLI_CONFIG: cliConfig,
    BERTH_NO_AUTOSTART: '1',
    NO_COLOR: '1',
  };
  return {
    dataDir,
    logFile,
    hostsFile,
    apiPort,
    httpPort,
    env,
    daemon,
    rememberPids,
    stop,
    /** `berth ARGS` against this server; its stdout. options go to execFileSync (stdio, timeout). */
    cli: (cliArgs, options = {}) =>
      execFileSync(process.execPath, [CLI, ...cliArgs], {
        env,
        encoding: 'utf8',
        timeout: 600_000,
        ...options,
      }),
    /** A private name's address from the hosts file this daemon writes. */
    addressOf(host) {
      const line = fs
        .readFileSync(hostsFile, 'utf8')
        .split('\n')
        .find((l) => l.split(/\s+/).includes(host));
      if (!line) throw new Error(`${host} is not in the hosts file`);
      return line.split(/\s+/)[0];
    },
  };
}

/** A managed PostgreSQL's connection (node-postgres config) at its private address. */
export function pgTarget(server, project, service) {
  const v = JSON.parse(server.cli(['variables', '--json', '-p', project, '-s', service], { stdio: 'pipe' }));
  return {
    host: server.addressOf(v.PGHOST),
    port: 5432,
    user: v.PGUSER,
    password: v.PGPASSWORD,
    database: v.PGDATABASE,
  };
}

/** Project `project` with a managed PostgreSQL `Postgres` filled by `pgbench -i -s scale`; its connection. */
export async function postgresWithPgbench(server, project, scale) {
  const cli = (args) => server.cli(args, { stdio: 'pipe' });
  cli(['init', '--name', project]);
  server.rememberPids();
  cli(['add', '--database', 'postgres', '-p', project]);
  server.rememberPids();
  const source = pgTarget(server, project, 'Postgres');
  log(`filling Postgres with pgbench -i -s ${scale}`);
  await run(
    ['pgbench', '-i', '-q', '-s', String(scale), '-h', source.host, '-U', source.user, source.database],
    {
      PGPASSWORD: source.password,
    },
  );
  return source;
}
