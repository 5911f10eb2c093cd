#!/usr/bin/env node
/**
 * Point-in-time restore benchmark (`node bench/pitr.mjs [--scale 7] [--load-seconds 150]`, after `npm run
 * build`): a real Berth server in a temp dir with a managed PostgreSQL filled by `pgbench -i -s 7` (about 100 MB),
 *   1. RPO: a steady write load (one committed row every 100 ms) while the restore window is sampled every
 *      250 ms; the lag (now − the window's latest restorable instant) is what a crash that lost the volume
 *      at that moment would lose. With the defaults (archive_timeout 60 s; the WAL tail shipped every
 *      second), alone and (after the restores) with pgbench's TPC-B writes (2 clients) running beside it.
 *   2. restore time: `berth db restore --time T --name NEW` of that database to a moment ago (no WAL file
 *      closed for it: the tail is replayed), CLI spawn to exit (base backup fetched and extracted, WAL
 *      fetched, replayed to T, promoted), with the rows at T checked.
 * Writes bench/results/pitr.json. Stops everything it started by pid (process groups) and removes the temp
 * dir, also on failure.
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import pg from 'pg';
import {
  createBench,
  log,
  median,
  numberArg,
  pgTarget,
  postgresWithPgbench,
  ROOT,
  run,
  waitUntil,
  writeJson,
} from './lib/berth-server.mjs';

const RESULTS = path.join(ROOT, 'bench', 'results', 'pitr.json');
const SCALE = numberArg('--scale', 7);
/** Seconds of the steady write load (the one beside pgbench: at most 60). */
const LOAD_S = numberArg('--load-seconds', 150);
const RESTORES = numberArg('--restores', 2);
const PROJECT = 'benchpitr';
const TARGET_RPO_S = 5;

const bench = createBench('pitr');
/** Started first thing in the try below, so its failure is reported and cleaned up like any other. */
let server = null;
const cli = (args) => server.cli(args, { stdio: 'pipe' });
const rememberPids = () => server.rememberPids();
const target = (service) => pgTarget(server, PROJECT, service);

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const windowOf = () =>
  JSON.parse(cli(['db', 'restore', '--list-window', '--json', '-p', PROJECT, '-s', 'Postgres']));

const waitFor = (what, check, timeoutMs) => waitUntil(what, check, { timeoutMs, everyMs: 250 });

/** pgbench's TPC-B-like writes for `seconds` (2 clients); its tps. */
async function pgbenchWrites(source, seconds) {
  const out = await run(
    [
      'pgbench',
      '-c',
      '2',
      '-j',
      '1',
      '-T',
      String(seconds),
      '-h',
      source.host,
      '-U',
      source.user,
      source.database,
    ],
    { PGPASSWORD: source.password },
  );
  return Number(/tps = ([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
}

const lagFigures = (lags) => ({
  samples: lags.length,
  medianS: Number(median(lags).toFixed(2)),
  p95S: Number(pct(lags, 0.95).toFixed(2)),
  maxS: Number(Math.max(...lags).toFixed(2)),
});

/** Steady writes for `seconds` while sampling the archive's lag behind them; the lag samples in seconds. */
async function rpoUnderLoad(source, seconds) {
  const c = new pg.Client(source);
  await c.connect();
  const lags = [];
  let writing = true;
  const writer = (async () => {
    while (writing) {
      await c.query('INSERT INTO ticks (at) VALUES (clock_timestamp())');
      await sleep(100);
    }
  })();
  const end = Date.now() + seconds * 1000;
  // The first archive_timeout after the load starts is the archive catching up, not steady state.
  const from = Date.now() + 5_000;
  while (Date.now() < end) {
    const w = windowOf();
    const now = Date.now();
    if (now >= from && w.latest) lags.push((now - Date.parse(w.latest)) / 1000);
    await sleep(250);
  }
  writing = false;
  await writer;
  await c.end();
  return lags;
}

try {
  server = await bench.startServer();
  const source = await postgresWithPgbench(server, PROJECT, SCALE);
  const c = new pg.Client(source);
  await c.connect();
  await c.query('CREATE TABLE ticks (id bigserial PRIMARY KEY, at timestamptz NOT NULL)');
  const sizeMB = Number((await c.query('SELECT pg_database_size(current_database()) AS b')).rows[0].b) / 1e6;
  await c.query('SELECT pg_switch_wal()');
  log(`database ${sizeMB.toFixed(0)} MB; waiting for the first base backup`);
  const first = await waitFor('the first base backup', () => windowOf().earliest, 300_000);
  log(`window opens at ${first}`);

  const rpo = {};
  log(`RPO with the defaults: ${LOAD_S} s of steady writes`);
  rpo.steady = lagFigures(await rpoUnderLoad(source, LOAD_S));
  log(`  lag median ${rpo.steady.medianS} s, p95 ${rpo.steady.p95S} s, max ${rpo.steady.maxS} s`);
  const restores = [];
  for (let i = 1; i <= RESTORES; i++) {
    const at = new Date().toISOString();
    const expected = Number(
      (await c.query('SELECT count(*) AS n FROM ticks WHERE at <= $1', [at])).rows[0].n,
    );
    await sleep(50);
    await c.query('INSERT INTO ticks (at) VALUES (clock_timestamp())');
    await waitFor('the window to reach the restore instant', () => (windowOf().latest ?? '') >= at, 60_000);
    const t0 = performance.now();
    const out = cli([
      'db',
      'restore',
      '--time',
      at,
      '--name',
      `Restored${i}`,
      '-p',
      PROJECT,
      '-s',
      'Postgres',
    ]);
    const s = (performance.now() - t0) / 1000;
    rememberPids();
    const r = new pg.Client(target(`Restored${i}`));
    await r.connect();
    const got = Number((await r.query('SELECT count(*) AS n FROM ticks')).rows[0].n);
    await r.end();
    if (got !== expected) throw new Error(`restore ${i}: ${got} rows at ${at}, expected ${expected}`);
    restores.push(s);
    log(`restore ${i}/${RESTORES}: ${s.toFixed(2)} s, ${got} rows as at ${at} (${out.trim()})`);
    // The server's own split: fetch + extract ("volume"), start through consistency, replay + promotion.
    const split = fs
      .readFileSync(server.logFile, 'utf8')
      .split('\n')
      .find((l) => l.includes(`provisioned Restored${i} `));
    if (split) log(`  ${/provisioned [^"]*/.exec(split)?.[0] ?? split}`);
  }
  // Last, so the restores above replay the same light WAL as before it existed.
  const heavyS = Math.min(LOAD_S, 60);
  log(`RPO with pgbench writing beside it: ${heavyS} s`);
  const [heavyLags, tps] = await Promise.all([rpoUnderLoad(source, heavyS), pgbenchWrites(source, heavyS)]);
  rpo.pgbench = { ...lagFigures(heavyLags), pgbenchTps: Math.round(tps) };
  log(
    `  lag median ${rpo.pgbench.medianS} s, p95 ${rpo.pgbench.p95S} s, max ${rpo.pgbench.maxS} s (${rpo.pgbench.pgbenchTps} tps)`,
  );

  await c.end();
  const db = new Database(path.join(server.dataDir, 'state.db'), { readonly: true });
  const archive = db
    .prepare(
      "SELECT count(*) AS files, sum(size_bytes) AS bytes FROM wal_files WHERE name NOT LIKE '%.history'",
    )
    .get();
  const bases = db.prepare("SELECT size_bytes FROM base_backups WHERE status = 'verified'").all();
  db.close();
  const result = {
    when: new Date().toISOString(),
    databaseMB: Math.round(sizeMB),
    rpo: {
      what: 'seconds the restore window lagged behind a steady write load (a row every 100 ms), sampled every 250 ms',
      ...rpo,
      targetS: TARGET_RPO_S,
      pass: rpo.steady.maxS <= TARGET_RPO_S && rpo.pgbench.maxS <= TARGET_RPO_S,
    },
    restore: {
      what: 'seconds from spawning `berth db restore --time T --name NEW` until it exits (fetch, extract, replay, promote)',
      medianS: Number(median(restores).toFixed(3)),
      runs: restores.map((x) => Number(x.toFixed(3))),
    },
    archive: {
      walFiles: archive.files,
      walMB: Number((archive.bytes / 1e6).toFixed(1)),
      baseBackupMB: bases.map((b) => Number((b.size_bytes / 1e6).toFixed(1))),
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
