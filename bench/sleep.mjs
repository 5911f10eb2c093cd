#!/usr/bin/env node
/**
 * Wake-from-sleep latency (`node bench/sleep.mjs [--rounds 5]`, after `npm run build`): its own `berth server` per
 * edge (built-in, then HAProxy when installed) in a temp dir. An app with `sleepApplication = true` and
 * `sleepAfterSeconds = 1` is left to sleep, then the time from sending the first request to its 200 is measured
 * (target ≤ 1.5 s, issue 18); a PostgreSQL with `berth db sleep --after 1s`, the time from node-postgres' connect
 * to the first query's answer (target ≤ 1 s, issue 16). Medians of the rounds; writes bench/results/sleep.json.
 * Everything is stopped with `berth server stop --all` (by pid) and the temp dir removed, also on failure.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { request } from 'undici';

const ROOT = path.resolve(import.meta.dirname, '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'apps');
const RESULTS = path.join(ROOT, 'bench', 'results', 'sleep.json');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROUNDS = arg('--rounds', 5);
const TARGETS = { appWakeS: 1.5, pgWakeS: 1 };

const { freePort } = await import(path.join(ROOT, 'dist', 'lib', 'net.js'));
const { findHaproxy } = await import(path.join(ROOT, 'dist', 'edge', 'haproxy', 'find.js'));
const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-sleep-'));
const dataDirs = [];

async function cleanup() {
  for (const dataDir of dataDirs) {
    try {
      execFileSync(process.execPath, [CLI, 'server', 'stop', '--all', '--data-dir', dataDir], {
        stdio: 'ignore',
        timeout: 120_000,
      });
    } catch {}
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => cleanup().then(() => process.exit(1)));

async function waitUntil(what, fn, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const seconds = (ms) => Number((ms / 1000).toFixed(3));

/** A daemon of its own for one edge; resolves with what the CLI needs. */
async function startServer(edge) {
  const dataDir = path.join(tmp, `data-${edge}`);
  dataDirs.push(dataDir);
  const apiPort = await freePort();
  const httpPort = await freePort();
  const out = fs.openSync(path.join(tmp, `server-${edge}.log`), 'a');
  const args = [
    'server',
    '--data-dir',
    dataDir,
    '--api-port',
    String(apiPort),
    '--http-port',
    String(httpPort),
    '--https-port',
    String(await freePort()),
  ];
  const daemon = spawn(process.execPath, [CLI, ...args, '--edge', edge], {
    stdio: ['ignore', out, out],
    detached: true,
    env: { ...process.env, BERTH_HOSTS_FILE: path.join(tmp, `hosts-${edge}`) },
  });
  daemon.unref();
  await waitUntil('berth server', async () => (await fetch(`http://127.0.0.1:${apiPort}/v1/health`)).ok);
  const env = {
    ...process.env,
    BERTH_URL: `http://127.0.0.1:${apiPort}`,
    BERTH_TOKEN: fs.readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim(),
    BERTH_CLI_CONFIG: path.join(tmp, `cli-${edge}.json`),
    BERTH_NO_AUTOSTART: '1',
  };
  const cli = (a) => execFileSync(process.execPath, [CLI, ...a], { env, encoding: 'utf8', timeout: 180_000 });
  return { edge, httpPort, cli, hostsFile: path.join(tmp, `hosts-${edge}`) };
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
  const ip = fs
    .readFileSync(s.hostsFile, 'utf8')
    .split('\n')
    .find((l) => l.split(/\s+/).includes(vars.PGHOST))
    ?.split(/\s+/)[0];
  if (!ip) throw new Error(`${vars.PGHOST} is not in the hosts file`);
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
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  await cleanup();
} catch (err) {
  log(`failed: ${err instanceof Error ? err.message : String(err)}`);
  for (const f of fs.existsSync(tmp) ? fs.readdirSync(tmp).filter((n) => n.endsWith('.log')) : []) {
    log(`${f}: ${fs.readFileSync(path.join(tmp, f), 'utf8').split('\n').slice(-8).join('\n')}`);
  }
  await cleanup();
  process.exit(1);
}
