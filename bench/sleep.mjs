#!/usr/bin/env node
/**
 * Wake-from-sleep latency (`node bench/sleep.mjs [--rounds 5]`, after `npm run build`): its own `berth server` per
 * edge (built-in, then HAProxy when installed) in a temp dir. An app with `sleepApplication = true` and
 * `sleepAfterSeconds = 1` is left to sleep, then the time from sending the first request to its 200 is measured
 * (target ≤ 1.5 s, issue 18); a PostgreSQL with `berth db sleep --after 1s`, the time from node-postgres' connect
 * to the first query's answer (target ≤ 1 s, issue 16). Medians of the rounds; writes bench/results/sleep.json.
 * Everything is stopped with `berth server stop --all` (by pid) and the temp dir removed, also on failure.
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { request } from 'undici';
import { createBench, log, median, numberArg, ROOT, waitUntil, writeJson } from './lib/berth-server.mjs';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'apps');
const RESULTS = path.join(ROOT, 'bench', 'results', 'sleep.json');
const ROUNDS = numberArg('--rounds', 5);
const TARGETS = { appWakeS: 1.5, pgWakeS: 1 };

const { findHaproxy } = await import(path.join(ROOT, 'dist', 'edge', 'haproxy', 'find.js'));
const bench = createBench('sleep');
const tmp = bench.tmp;

const seconds = (ms) => Number((ms / 1000).toFixed(3));

/** A daemon of its own for one edge, with what the rounds need. */
async function startServer(edge) {
  const server = await bench.startServer({ suffix: edge, args: ['--edge', edge] });
  const cli = (a) => server.cli(a, { timeout: 180_000 });
  return { edge, httpPort: server.httpPort, cli, addressOf: server.addressOf };
}

const statusOf = (s, name) =>
  JSON.parse(s.cli(['status', '--json', '-p', 'bench'])).services.find((x) => x.name === name);

/** First request to a sleeping app until its 200, per round. */
async function appWake(s) {
  const app = path.join(tmp, `app-${s.edge}`);
  fs.cpSync(path.join(FIXTURES, 'lifecycle'), app, { recursive: true });
  const toml = fs.readFileSync(path.join(app, 'railway.toml'), 'utf8').replace('drainingSeconds = 5', '');
  fs.writeFileSync(path.join(app, 'railway.toml'), `${toml}sleepApplication = true\nsleepAfterSeconds = 1\n`);
  s.cli(['init', '--name', 'bench']);
  s.cli(['add', '--service', 'web', '-p', 'bench']);
  s.cli(['up', app, '-p', 'bench', '-s', 'web']);
  const times = [];
  for (let round = 1; round <= ROUNDS; round++) {
    await waitUntil('the app to sleep', async () => statusOf(s, 'web')?.sleeping === true);
    const t0 = performance.now();
    const res = await request(`http://127.0.0.1:${s.httpPort}/health`, {
      headers: { host: 'web-bench.localhost' },
      reset: true,
    });
    await res.body.text();
    if (res.statusCode !== 200) throw new Error(`the first request after sleep got ${res.statusCode}`);
    times.push(performance.now() - t0);
    log(`${s.edge} edge: app woke in ${Math.round(times.at(-1))} ms`);
  }
  return times;
}

/** node-postgres' connect + first query on a sleeping PostgreSQL, per round. */
async function pgWake(s) {
  s.cli(['add', '--database', 'postgres', '-p', 'bench']);
  s.cli(['db', 'sleep', '--after', '1s', '-p', 'bench', '-s', 'Postgres']);
  const vars = JSON.parse(s.cli(['variables', '--json', '-p', 'bench', '-s', 'Postgres']));
  // The private name is in the scratch hosts file: connect to its address.
  const ip = s.addressOf(vars.PGHOST);
  const times = [];
  for (let round = 1; round <= ROUNDS; round++) {
    await waitUntil('the database to sleep', async () => statusOf(s, 'Postgres')?.state === 'sleeping');
    const t0 = performance.now();
    const client = new pg.Client({
      ...vars,
      host: ip,
      user: vars.PGUSER,
      password: vars.PGPASSWORD,
      database: vars.PGDATABASE,
      port: 5432,
    });
    await client.connect();
    await client.query('SELECT 1');
    times.push(performance.now() - t0);
    await client.end();
    log(`PostgreSQL woke in ${Math.round(times.at(-1))} ms`);
  }
  return times;
}

try {
  const results = { at: new Date().toISOString(), rounds: ROUNDS, app: {}, postgres: null };
  const edges = findHaproxy() === null ? ['builtin'] : ['builtin', 'haproxy'];
  if (process.argv.includes('--haproxy-first')) edges.reverse();
  for (const edge of edges) {
    const s = await startServer(edge);
    results.app[edge] = (await appWake(s)).map(seconds);
    if (edge === 'builtin') results.postgres = (await pgWake(s)).map(seconds);
  }
  console.log(`wake from sleep, median of ${ROUNDS} rounds`);
  for (const [edge, xs] of Object.entries(results.app)) {
    const m = median(xs);
    console.log(
      `app, first request answered (${edge} edge): ${m.toFixed(2)} s (target <= ${TARGETS.appWakeS} s) ${m <= TARGETS.appWakeS ? 'PASS' : 'MISS'}`,
    );
  }
  const p = median(results.postgres);
  console.log(
    `PostgreSQL, connect + first query: ${p.toFixed(2)} s (target <= ${TARGETS.pgWakeS} s) ${p <= TARGETS.pgWakeS ? 'PASS' : 'MISS'}`,
  );
  writeJson(RESULTS, results);
  await bench.cleanup();
} catch (err) {
  log(`failed: ${err instanceof Error ? err.message : String(err)}`);
  for (const f of fs.existsSync(tmp) ? fs.readdirSync(tmp).filter((n) => n.endsWith('.log')) : []) {
    log(`${f}: ${fs.readFileSync(path.join(tmp, f), 'utf8').split('\n').slice(-8).join('\n')}`);
  }
  await bench.cleanup();
  process.exit(1);
}
