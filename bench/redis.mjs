#!/usr/bin/env node
/**
 * Managed Redis vs a hand-started redis-server (`node bench/redis.mjs [--rounds 3] [--requests 100000]`, after
 * `npm run build`): its own `berth server` in a temp dir provisions `berth add --database redis`; a second
 * redis-server is started by hand with the same config file (a copy of the managed one's, so the same
 * persistence: AOF everysec + RDB) in a temp dir of its own. redis-benchmark (Debian's redis-tools) runs against
 * each in alternating rounds of the same run; the figure is the managed one's median requests/s as a share of the
 * hand-started one's (target ≥ 95 %). Writes bench/results/redis.json; stops everything it started by pid and
 * removes the temp dir, also on failure.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';

const ROOT = path.resolve(import.meta.dirname, '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const RESULTS = path.join(ROOT, 'bench', 'results', 'redis.json');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROUNDS = arg('--rounds', 3);
const REQUESTS = arg('--requests', 100_000);
const TESTS = 'ping_mbulk,set,get,incr,lpush,rpop';
const TARGET = 0.95;

const { freePort } = await import(path.join(ROOT, 'dist', 'lib', 'net.js'));
const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-redis-'));
const dataDir = path.join(tmp, 'data');
const groups = [];

async function stopGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    return;
  }
  for (let i = 0; i < 200; i++) {
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

/** The daemon, then what it left running (the engine's process group, from its workload row), then ours. */
async function cleanup() {
  const engines = [];
  try {
    const db = new Database(path.join(dataDir, 'state.db'), { readonly: true, fileMustExist: true });
    for (const r of db
      .prepare(
        "SELECT json_extract(handle_json, '$.pid') AS pid FROM workloads WHERE handle_json IS NOT NULL",
      )
      .all())
      engines.push(Number(r.pid));
    db.close();
  } catch {}
  for (const pid of groups) await stopGroup(pid, 'SIGTERM');
  for (const pid of engines) await stopGroup(pid, 'SIGTERM');
  fs.rmSync(tmp, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => cleanup().then(() => process.exit(1)));

async function waitUntil(what, fn, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function cli(args, env) {
  return execFileSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8', timeout: 120_000 });
}

/** redis-benchmark's CSV: test name → requests per second. */
function benchmark(host, port, password) {
  const out = execFileSync(
    'redis-benchmark',
    [
      '-h',
      host,
      '-p',
      String(port),
      '-a',
      password,
      '-t',
      TESTS,
      '-n',
      String(REQUESTS),
      '-c',
      '50',
      '--csv',
    ],
    { encoding: 'utf8', timeout: 600_000, stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const rps = {};
  for (const line of out.trim().split('\n').slice(1)) {
    const [test, value] = line.split(',').map((c) => c.replace(/"/g, ''));
    rps[test] = Number(value);
  }
  return rps;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  const apiPort = await freePort();
  const out = fs.openSync(path.join(tmp, 'server.log'), 'a');
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
      String(await freePort()),
    ],
    {
      stdio: ['ignore', out, out],
      detached: true,
      env: { ...process.env, BERTH_HOSTS_FILE: path.join(tmp, 'hosts') },
    },
  );
  groups.push(daemon.pid);
  await waitUntil('berth server', async () => (await fetch(`http://127.0.0.1:${apiPort}/v1/health`)).ok);
  const env = {
    ...process.env,
    BERTH_URL: `http://127.0.0.1:${apiPort}`,
    BERTH_TOKEN: fs.readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim(),
    BERTH_CLI_CONFIG: path.join(tmp, 'cli.json'),
    BERTH_NO_AUTOSTART: '1',
  };
  cli(['init', '--name', 'bench'], env);
  log(cli(['add', '--database', 'redis', '-p', 'bench'], env).trim());
  const vars = JSON.parse(cli(['variables', '--json', '-p', 'bench', '-s', 'Redis'], env));
  // The private name is in the scratch hosts file; redis-benchmark gets its address.
  const hosts = fs.readFileSync(path.join(tmp, 'hosts'), 'utf8');
  const managedIp = hosts
    .split('\n')
    .find((l) => l.split(/\s+/).includes(vars.REDISHOST))
    ?.split(/\s+/)[0];
  if (!managedIp) throw new Error(`${vars.REDISHOST} is not in the hosts file`);

  const volumes = path.join(dataDir, 'volumes');
  const [serviceDir] = fs.readdirSync(volumes);
  const [envDir] = fs.readdirSync(path.join(volumes, serviceDir));
  const handDir = path.join(tmp, 'hand');
  fs.mkdirSync(handDir);
  fs.copyFileSync(path.join(volumes, serviceDir, envDir, 'redis.conf'), path.join(handDir, 'redis.conf'));
  const handPort = await freePort();
  const hand = spawn(
    'redis-server',
    [path.join(handDir, 'redis.conf'), '--bind', '127.0.0.1', '--port', String(handPort), '--dir', handDir],
    { stdio: ['ignore', 'ignore', 'ignore'], detached: true },
  );
  groups.push(hand.pid);
  await waitUntil('the hand-started redis-server', async () => {
    const pong = execFileSync(
      'redis-cli',
      ['-p', String(handPort), '-a', vars.REDISPASSWORD, '--no-auth-warning', 'PING'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    return pong.trim() === 'PONG';
  });

  const runs = { managed: [], hand: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    // Alternating, and which goes first too, so drift on a shared machine hits both alike.
    const order = round % 2 === 1 ? ['managed', 'hand'] : ['hand', 'managed'];
    for (const which of order) {
      runs[which].push(
        which === 'managed'
          ? benchmark(managedIp, 6379, vars.REDISPASSWORD)
          : benchmark('127.0.0.1', handPort, vars.REDISPASSWORD),
      );
    }
    log(`round ${round}/${ROUNDS} done`);
  }
  const rows = Object.keys(runs.hand[0]).map((test) => {
    const managed = median(runs.managed.map((r) => r[test]));
    const handRps = median(runs.hand.map((r) => r[test]));
    return { test, managed, hand: handRps, ratio: managed / handRps };
  });
  const overall = median(rows.map((r) => r.ratio));
  console.log(`redis-benchmark, ${REQUESTS} requests x ${ROUNDS} rounds, 50 clients (median requests/s)`);
  console.log('test           managed     hand    managed/hand');
  for (const r of rows) {
    console.log(
      `${r.test.padEnd(14)} ${String(Math.round(r.managed)).padStart(8)} ${String(Math.round(r.hand)).padStart(8)}    ${(r.ratio * 100).toFixed(1)} %`,
    );
  }
  console.log(
    `median of the tests: ${(overall * 100).toFixed(1)} % (target >= ${TARGET * 100} %) ${overall >= TARGET ? 'PASS' : 'MISS'}`,
  );
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(
    RESULTS,
    `${JSON.stringify({ at: new Date().toISOString(), requests: REQUESTS, rounds: ROUNDS, rows, overall, runs }, null, 2)}\n`,
  );
  await cleanup();
} catch (err) {
  log(`failed: ${err instanceof Error ? err.message : String(err)}`);
  await cleanup();
  process.exit(1);
}
