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
import path from 'node:path';
import {
  createBench,
  freePort,
  log,
  median,
  numberArg,
  ROOT,
  waitUntil,
  writeJson,
} from './lib/berth-server.mjs';

const RESULTS = path.join(ROOT, 'bench', 'results', 'redis.json');
const ROUNDS = numberArg('--rounds', 3);
const REQUESTS = numberArg('--requests', 100_000);
const TESTS = 'ping_mbulk,set,get,incr,lpush,rpop';
const TARGET = 0.95;

const bench = createBench('redis');
const tmp = bench.tmp;

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

try {
  const server = await bench.startServer();
  const { dataDir } = server;
  const cli = (args) => server.cli(args, { timeout: 120_000 });
  cli(['init', '--name', 'bench']);
  log(cli(['add', '--database', 'redis', '-p', 'bench']).trim());
  const vars = JSON.parse(cli(['variables', '--json', '-p', 'bench', '-s', 'Redis']));
  // The private name is in the scratch hosts file; redis-benchmark gets its address.
  const managedIp = server.addressOf(vars.REDISHOST);

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
  bench.track(hand.pid);
  await waitUntil(
    'the hand-started redis-server',
    async () => {
      const pong = execFileSync(
        'redis-cli',
        ['-p', String(handPort), '-a', vars.REDISPASSWORD, '--no-auth-warning', 'PING'],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
      );
      return pong.trim() === 'PONG';
    },
    { timeoutMs: 30_000 },
  );

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
  writeJson(RESULTS, {
    at: new Date().toISOString(),
    requests: REQUESTS,
    rounds: ROUNDS,
    rows,
    overall,
    runs,
  });
  await bench.cleanup();
} catch (err) {
  log(`failed: ${err instanceof Error ? err.message : String(err)}`);
  await bench.cleanup();
  process.exit(1);
}
