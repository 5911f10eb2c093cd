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
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';

const ROOT = path.resolve(import.meta.dirname, '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const RESULTS = path.join(ROOT, 'bench', 'results', 'redis-backup.json');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const TARGET_MB = arg('--mb', 100);
const ROUNDS = arg('--rounds', 3);
const VALUE_BYTES = 1000;

const { freePort } = await import(path.join(ROOT, 'dist', 'lib', 'net.js'));
const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-redis-backup-'));
const dataDir = path.join(tmp, 'data');
const groups = [];
const clients = [];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function stopGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    return;
  }
  for (let i = 0; i < 400; i++) {
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

/** Our clients, the daemon, then the engines it left running (from their workload rows), then ours. */
async function cleanup() {
  for (const c of clients) c.disconnect();
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

async function waitUntil(what, fn, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

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
  const cli = (args) =>
    execFileSync(process.execPath, [CLI, ...args, '-p', 'bench'], {
      env,
      encoding: 'utf8',
      timeout: 600_000,
    });
  const timed = (args) => {
    const t0 = performance.now();
    const stdout = cli(args);
    return { stdout, s: (performance.now() - t0) / 1000 };
  };
  execFileSync(process.execPath, [CLI, 'init', '--name', 'bench'], { env, encoding: 'utf8' });
  cli(['add', '--database', 'redis']);

  const connect = (service) => {
    const vars = JSON.parse(cli(['variables', '--json', '-s', service]));
    const ip = fs
      .readFileSync(path.join(tmp, 'hosts'), 'utf8')
      .split('\n')
      .find((l) => l.split(/\s+/).includes(vars.REDISHOST))
      ?.split(/\s+/)[0];
    if (!ip) throw new Error(`${vars.REDISHOST} is not in the hosts file`);
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
    groups.push(hand.pid);
    const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    clients.push(probe);
    await waitUntil('the hand-started redis-server to load the snapshot', async () => {
      if (probe.status !== 'ready') {
        probe.disconnect();
        await probe.connect();
      }
      return (await probe.ping()) === 'PONG';
    });
    runs.handRestore.push((performance.now() - t0) / 1000);
    if ((await fingerprint(probe)) !== expected)
      throw new Error('the hand-loaded copy differs from the source');
    probe.disconnect();
    await stopGroup(hand.pid, 'SIGTERM');
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
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(RESULTS, `${JSON.stringify(result, null, 2)}\n`);
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
