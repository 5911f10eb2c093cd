#!/usr/bin/env node
/**
 * Redis backups (`node bench/redis-backup.mjs [--mb 100] [--rounds 3]`, after `npm run build`): its own `berth
 * server` in a temp dir provisions `berth add --database redis`, fills it with about --mb MB of incompressible
 * values, then times through the CLI `berth backup create` (redis-cli --rdb → local target → read back, size,
 * SHA-256, redis-check-rdb) and `berth backup restore --to` (fetch and check again, a new Redis service loaded
 * from the snapshot, until it answers), checked by key count and a digest of sampled values — side by side with
 * the same steps by hand: `redis-cli --rdb` to a file, and a hand-started redis-server loading that file until it
 * answers PING. Writes bench/results/redis-backup.json; stops everything it started by pid and removes the temp
 * dir, also on failure.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import {
  createBench,
  freePort,
  log,
  median,
  numberArg,
  ROOT,
  stopGroup,
  waitUntil,
  writeJson,
} from './lib/berth-server.mjs';

const RESULTS = path.join(ROOT, 'bench', 'results', 'redis-backup.json');
const TARGET_MB = numberArg('--mb', 100);
const ROUNDS = numberArg('--rounds', 3);
const VALUE_BYTES = 1000;

const bench = createBench('redis-backup');
const tmp = bench.tmp;
const clients = [];

/** Our clients first, then the servers and the hand-started redis-server. */
async function cleanup() {
  for (const c of clients) c.disconnect();
  await bench.cleanup();
}

try {
  const server = await bench.startServer();
  const cli = (args) => server.cli([...args, '-p', 'bench']);
  const timed = (args) => {
    const t0 = performance.now();
    const stdout = cli(args);
    return { stdout, s: (performance.now() - t0) / 1000 };
  };
  server.cli(['init', '--name', 'bench']);
  cli(['add', '--database', 'redis']);

  const connect = (service) => {
    const vars = JSON.parse(cli(['variables', '--json', '-s', service]));
    const ip = server.addressOf(vars.REDISHOST);
    const c = new Redis({
      host: ip,
      port: Number(vars.REDISPORT),
      username: vars.REDISUSER,
      password: vars.REDISPASSWORD,
    });
    clients.push(c);
    return { c, ip, vars };
  };
  const keys = Math.round((TARGET_MB * 1024 * 1024) / VALUE_BYTES);
  log(`filling Redis with ${keys} keys of ${VALUE_BYTES} random bytes`);
  const source = connect('Redis');
  for (let i = 0; i < keys; i += 1000) {
    const pipe = source.c.pipeline();
    for (let j = i; j < Math.min(keys, i + 1000); j++) pipe.set(`k:${j}`, randomBytes(VALUE_BYTES));
    await pipe.exec();
  }
  const usedMB = Number(/used_memory:(\d+)/.exec(await source.c.info('memory'))[1]) / 1048576;
  /** Count plus a digest of every 97th value: what a copy is compared on. */
  const fingerprint = async (c) => {
    const h = createHash('sha256');
    for (let j = 0; j < keys; j += 97) h.update((await c.getBuffer(`k:${j}`)) ?? 'missing');
    return `${await c.dbsize()}:${h.digest('hex')}`;
  };
  const expected = await fingerprint(source.c);

  const runs = { backup: [], restore: [], handBackup: [], handRestore: [] };
  let sizeBytes = 0;
  const handDir = path.join(tmp, 'hand');
  fs.mkdirSync(handDir);
  for (let round = 1; round <= ROUNDS; round++) {
    // Berth: backup, then restore of that backup into a new service (removed after).
    const b = timed(['backup', 'create', '-s', 'Redis', '--json']);
    const backup = JSON.parse(b.stdout);
    if (!backup.verified) throw new Error(`the backup failed: ${backup.error}`);
    sizeBytes = backup.sizeBytes;
    runs.backup.push(b.s);
    const name = `Copy${round}`;
    const r = timed(['backup', 'restore', backup.id, '--to', name, '--json']);
    runs.restore.push(r.s);
    const copy = connect(name);
    if ((await fingerprint(copy.c)) !== expected) throw new Error(`${name} differs from the source`);
    copy.c.disconnect();
    cli(['service', 'delete', '-s', name, '-y', '--skip-final-backup', '--delete-data']);

    // By hand: redis-cli --rdb to a file, then a redis-server of our own loading it until PING answers.
    const file = path.join(handDir, 'dump.rdb');
    fs.rmSync(file, { force: true });
    let t0 = performance.now();
    execFileSync(
      'redis-cli',
      ['-h', source.ip, '-p', source.vars.REDISPORT, '--user', 'default', '--rdb', file],
      { env: { PATH: '/usr/bin:/bin', REDISCLI_AUTH: source.vars.REDISPASSWORD }, stdio: 'ignore' },
    );
    runs.handBackup.push((performance.now() - t0) / 1000);
    const port = await freePort();
    t0 = performance.now();
    const hand = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', handDir, '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore', detached: true },
    );
    bench.track(hand.pid);
    const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    clients.push(probe);
    await waitUntil(
      'the hand-started redis-server to load the snapshot',
      async () => {
        if (probe.status !== 'ready') {
          probe.disconnect();
          await probe.connect();
        }
        return (await probe.ping()) === 'PONG';
      },
      { everyMs: 20 },
    );
    runs.handRestore.push((performance.now() - t0) / 1000);
    if ((await fingerprint(probe)) !== expected)
      throw new Error('the hand-loaded copy differs from the source');
    probe.disconnect();
    await stopGroup(hand.pid, { graceMs: 20_000 });
    log(
      `round ${round}/${ROUNDS}: backup ${b.s.toFixed(2)} s (hand ${runs.handBackup.at(-1).toFixed(2)}), restore ${r.s.toFixed(2)} s (hand load ${runs.handRestore.at(-1).toFixed(2)})`,
    );
  }
  const r2 = (x) => +x.toFixed(2);
  const result = {
    at: new Date().toISOString(),
    keys,
    usedMemoryMB: r2(usedMB),
    snapshotMB: r2(sizeBytes / 1048576),
    backupS: r2(median(runs.backup)),
    restoreS: r2(median(runs.restore)),
    handRdbS: r2(median(runs.handBackup)),
    handLoadS: r2(median(runs.handRestore)),
    rounds: Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, v.map(r2)])),
  };
  writeJson(RESULTS, result);
  console.log(
    `Redis of ${result.usedMemoryMB} MB (${keys} keys), RDB snapshot ${result.snapshotMB} MB; medians of ${ROUNDS}`,
  );
  console.log(`| berth backup create (snapshot, upload, read back, redis-check-rdb) | ${result.backupS} s |`);
  console.log(`| redis-cli --rdb to a file by hand | ${result.handRdbS} s |`);
  console.log(`| berth backup restore --to (check, new service, loaded, answering) | ${result.restoreS} s |`);
  console.log(`| redis-server started by hand on that file, until PING answers | ${result.handLoadS} s |`);
  await cleanup();
} catch (err) {
  log(`failed: ${err.stack ?? err}`);
  await cleanup();
  process.exit(1);
}
