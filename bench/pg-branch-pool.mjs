#!/usr/bin/env node
/**
 * Branch and pooler benchmark (`node bench/pg-branch-pool.mjs [--scale 7]`, after `npm run build`): a real Berth
 * server in a temp dir with a managed PostgreSQL filled by `pgbench -i -s 7` (about 100 MB), then
 *   1. the two ways to copy a running cluster, timed against it: pg_basebackup (fast checkpoint, WAL streamed,
 *      then one syncfs) and a file-level copy (pg_backup_start(fast) + cp --reflink=auto + pg_backup_stop + the
 *      WAL, then one syncfs);
 *   2. `berth db branch` through the CLI, 3 times: seconds from spawning the CLI until it exits (the branch runs
 *      with its own credentials);
 *   3. `berth db pooler on`, then pgbench -S (8 clients) direct vs through PgBouncer, with and without -C (a new
 *      connection per transaction, what pooling is for), alternating rounds, best tps of each.
 * Writes bench/results/pg-branch-pool.json. Stops everything it started by pid (process groups) and removes the
 * temp dir, also on failure.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import pg from 'pg';

const ROOT = path.resolve(import.meta.dirname, '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const RESULTS = path.join(ROOT, 'bench', 'results', 'pg-branch-pool.json');
const PG_BIN = '/usr/lib/postgresql/15/bin';
const scaleArg = process.argv.indexOf('--scale');
const SCALE = scaleArg > 0 ? Number(process.argv[scaleArg + 1]) : 7;
const BRANCHES = 3;
const PGBENCH = { clients: 8, threads: 2, seconds: 10, rounds: 2 };
const PROJECT = 'benchbranch';
const TARGET_BRANCH_S = 3;

const { freePort } = await import(path.join(ROOT, 'dist', 'lib', 'net.js'));
const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-branch-'));
const dataDir = path.join(tmp, 'data');
const hostsFile = path.join(tmp, 'hosts');
const pids = new Set();
let daemon = null;
let apiPort = 0;
let token = '';

const env = () => ({
  ...process.env,
  BERTH_URL: `http://127.0.0.1:${apiPort}`,
  BERTH_TOKEN: token,
  BERTH_CLI_CONFIG: path.join(tmp, 'cli.json'),
  BERTH_NO_AUTOSTART: '1',
  NO_COLOR: '1',
});
const cli = (args) =>
  execFileSync(process.execPath, [CLI, ...args], { env: env(), encoding: 'utf8', stdio: 'pipe' });

/** The pids of the daemon's edge and of its workloads (engines, poolers): stopped by group at the end. */
function rememberPids() {
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

async function cleanup() {
  rememberPids();
  if (daemon && daemon.exitCode === null) {
    daemon.kill('SIGTERM');
    for (let i = 0; i < 100 && daemon.exitCode === null; i++) await sleep(50);
    if (daemon.exitCode === null) signalGroup(daemon.pid, 'SIGKILL');
  }
  for (const p of pids) signalGroup(p, 'SIGINT');
  const deadline = Date.now() + 15_000;
  while ([...pids].some(alive) && Date.now() < deadline) await sleep(50);
  for (const p of pids) if (alive(p)) signalGroup(p, 'SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
}

function run(argv, extraEnv = {}) {
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

async function startServer() {
  apiPort = await freePort();
  const out = fs.openSync(path.join(tmp, 'server.log'), 'a');
  daemon = spawn(
    process.execPath,
    [
      CLI,
      'server',
      '--data-dir',
      dataDir,
      '--api-port',
      String(apiPort),
      '--http-port',
      String(await freePort()),
      '--https-port',
      String(await freePort()),
    ],
    { stdio: ['ignore', out, out], detached: true, env: { ...process.env, BERTH_HOSTS_FILE: hostsFile } },
  );
  fs.closeSync(out);
  for (let i = 0; ; i++) {
    if (daemon.exitCode !== null) throw new Error(fs.readFileSync(path.join(tmp, 'server.log'), 'utf8'));
    try {
      const res = await fetch(`http://127.0.0.1:${apiPort}/v1/health`);
      if (res.ok) break;
    } catch {}
    if (i > 600) throw new Error('the server did not answer /v1/health within 30 s');
    await sleep(50);
  }
  token = fs.readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
}

/** A database's connection: its private address from the hosts file the daemon writes. */
function target(service) {
  const v = JSON.parse(cli(['variables', '--json', '-p', PROJECT, '-s', service]));
  const line = fs
    .readFileSync(hostsFile, 'utf8')
    .split('\n')
    .find((l) => l.split(/\s+/).includes(v.PGHOST));
  if (!line) throw new Error(`${v.PGHOST} is not in the hosts file`);
  return {
    host: line.split(/\s+/)[0],
    port: 5432,
    user: v.PGUSER,
    password: v.PGPASSWORD,
    database: v.PGDATABASE,
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** pg_basebackup of the running cluster into dir, then one syncfs. */
async function copyByBasebackup(t, dir) {
  const t0 = performance.now();
  await run(
    [
      `${PG_BIN}/pg_basebackup`,
      '-D',
      dir,
      '-h',
      t.host,
      '-p',
      String(t.port),
      '-U',
      t.user,
      '-w',
      '--checkpoint=fast',
      '--wal-method=stream',
      '--no-sync',
      '--no-manifest',
    ],
    { PGPASSWORD: t.password },
  );
  await run(['sync', '--file-system', dir]);
  return (performance.now() - t0) / 1000;
}

/** The file-level way: pg_backup_start (fast checkpoint), cp --reflink=auto, pg_backup_stop, the WAL, syncfs. */
async function copyByFiles(t, pgdata, dir) {
  const c = new pg.Client(t);
  await c.connect();
  try {
    const t0 = performance.now();
    await c.query("SELECT pg_backup_start('bench', true)");
    await run(['cp', '-a', '--reflink=auto', pgdata, dir]);
    const { labelfile } = (await c.query('SELECT labelfile FROM pg_backup_stop(false)')).rows[0];
    fs.writeFileSync(path.join(dir, 'backup_label'), labelfile);
    fs.rmSync(path.join(dir, 'postmaster.pid'), { force: true });
    fs.rmSync(path.join(dir, 'pg_wal'), { recursive: true, force: true });
    await run(['cp', '-a', '--reflink=auto', path.join(pgdata, 'pg_wal'), path.join(dir, 'pg_wal')]);
    await run(['sync', '--file-system', dir]);
    return (performance.now() - t0) / 1000;
  } finally {
    await c.end();
  }
}

async function pgbenchTps(t, port, extra) {
  const out = await run(
    [
      'pgbench',
      '-h',
      t.host,
      '-p',
      String(port),
      '-U',
      t.user,
      '-n',
      '-S',
      '-c',
      String(PGBENCH.clients),
      '-j',
      String(PGBENCH.threads),
      '-T',
      String(PGBENCH.seconds),
      ...extra,
      t.database,
    ],
    { PGPASSWORD: t.password },
  );
  const m = /tps = ([\d.]+)/.exec(out);
  if (!m) throw new Error(`no tps in pgbench's output: ${out}`);
  return Number(m[1]);
}

try {
  await startServer();
  cli(['init', '--name', PROJECT]);
  rememberPids();
  cli(['add', '--database', 'postgres', '-p', PROJECT]);
  rememberPids();
  const source = target('Postgres');
  log(`filling Postgres with pgbench -i -s ${SCALE}`);
  await run(
    ['pgbench', '-i', '-q', '-s', String(SCALE), '-h', source.host, '-U', source.user, source.database],
    {
      PGPASSWORD: source.password,
    },
  );
  const c = new pg.Client(source);
  await c.connect();
  const sizeMB = Number((await c.query('SELECT pg_database_size(current_database()) AS b')).rows[0].b) / 1e6;
  const clusterMB =
    Number((await c.query('SELECT sum(pg_database_size(oid)) AS b FROM pg_database')).rows[0].b) / 1e6;
  await c.end();
  log(`database ${sizeMB.toFixed(0)} MB (cluster ${clusterMB.toFixed(0)} MB)`);

  const db = new Database(path.join(dataDir, 'state.db'), { readonly: true });
  const { service_id: sid, environment_id: eid } = db
    .prepare('SELECT service_id, environment_id FROM data_services')
    .get();
  db.close();
  const pgdata = path.join(dataDir, 'volumes', sid, eid, 'pgdata');
  const methods = { basebackup: [], files: [] };
  for (let i = 0; i < 3; i++) {
    const a = path.join(tmp, `copy-bb-${i}`);
    const b = path.join(tmp, `copy-files-${i}`);
    methods.basebackup.push(await copyByBasebackup(source, a));
    methods.files.push(await copyByFiles(source, pgdata, b));
    fs.rmSync(a, { recursive: true, force: true });
    fs.rmSync(b, { recursive: true, force: true });
    log(
      `copy ${i + 1}/3: pg_basebackup ${methods.basebackup[i].toFixed(2)} s, file-level ${methods.files[i].toFixed(2)} s`,
    );
  }

  const branches = [];
  for (let i = 1; i <= BRANCHES; i++) {
    const t0 = performance.now();
    const out = cli(['db', 'branch', `Branch${i}`, '-p', PROJECT, '-s', 'Postgres']);
    branches.push((performance.now() - t0) / 1000);
    rememberPids();
    log(`branch ${i}/${BRANCHES}: ${branches.at(-1).toFixed(2)} s (${out.trim()})`);
  }

  cli(['db', 'pooler', 'on', '-p', PROJECT, '-s', 'Postgres']);
  rememberPids();
  const tps = { direct: [], pooled: [], directConnect: [], pooledConnect: [] };
  for (let r = 0; r < PGBENCH.rounds; r++) {
    tps.direct.push(await pgbenchTps(source, 5432, []));
    tps.pooled.push(await pgbenchTps(source, 6432, []));
    tps.directConnect.push(await pgbenchTps(source, 5432, ['-C']));
    tps.pooledConnect.push(await pgbenchTps(source, 6432, ['-C']));
    log(
      `pgbench round ${r + 1}: direct ${Math.round(tps.direct[r])}, pooled ${Math.round(tps.pooled[r])}, -C direct ${Math.round(tps.directConnect[r])}, -C pooled ${Math.round(tps.pooledConnect[r])} tps`,
    );
  }
  const best = Object.fromEntries(Object.entries(tps).map(([k, v]) => [k, Math.round(Math.max(...v))]));
  const result = {
    when: new Date().toISOString(),
    databaseMB: Math.round(sizeMB),
    copy: {
      what: 'seconds to copy the running cluster, median of 3',
      pgBasebackup: Number(median(methods.basebackup).toFixed(3)),
      fileLevel: Number(median(methods.files).toFixed(3)),
    },
    branch: {
      what: `seconds from spawning \`berth db branch\` until it exits (copy, first start, new password), median of ${BRANCHES}`,
      medianS: Number(median(branches).toFixed(3)),
      runs: branches.map((x) => Number(x.toFixed(3))),
      pass: median(branches) <= TARGET_BRANCH_S,
    },
    pgbench: {
      what: `pgbench -S -c ${PGBENCH.clients} -j ${PGBENCH.threads} -T ${PGBENCH.seconds}, best of ${PGBENCH.rounds}; -C opens a connection per transaction`,
      ...best,
    },
  };
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(RESULTS, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} catch (err) {
  log(`failed: ${err.stack ?? err}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
