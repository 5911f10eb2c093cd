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
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import pg from 'pg';
import {
  createBench,
  log,
  median,
  numberArg,
  postgresWithPgbench,
  ROOT,
  run,
  writeJson,
} from './lib/berth-server.mjs';

const RESULTS = path.join(ROOT, 'bench', 'results', 'pg-branch-pool.json');
const PG_BIN = '/usr/lib/postgresql/15/bin';
const SCALE = numberArg('--scale', 7);
const BRANCHES = 3;
const PGBENCH = { clients: 8, threads: 2, seconds: 10, rounds: 2 };
const PROJECT = 'benchbranch';
const TARGET_BRANCH_S = 3;

const bench = createBench('branch');
const tmp = bench.tmp;

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
  const server = await bench.startServer();
  const { dataDir } = server;
  const cli = (args) => server.cli(args, { stdio: 'pipe' });
  const rememberPids = server.rememberPids;
  const source = await postgresWithPgbench(server, PROJECT, SCALE);
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
  writeJson(RESULTS, result);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} catch (err) {
  log(`failed: ${err.stack ?? err}`);
  process.exitCode = 1;
} finally {
  await bench.cleanup();
}
