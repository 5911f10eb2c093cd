#!/usr/bin/env node
/**
 * The object store against the disk it writes to (`node bench/object-store.mjs [--rounds 3]`, after
 * `npm run build`): starts dist/storage/main.js in a temp dir on a free port and measures, in one run,
 *   1. PUT and GET throughput of 1 MiB and 64 MiB objects, next to plain write+fsync (and read) of the same
 *      data in the same file system — the physical limit here;
 *   2. 4 KiB PUT and GET operations per second (32 concurrent requests), next to write+fsync of 4 KiB files;
 *   3. the store's RSS while one 1 GiB object streams in.
 * Requests are SigV4-signed (UNSIGNED-PAYLOAD, as presigned uploads are) with the store's own signing functions
 * over undici keep-alive connections. Prints a table against the targets (≥ 70 % of disk throughput for large
 * objects, ≥ 3,000 small PUT/s, RSS flat), writes bench/results/object-store.json, stops the store by pid and
 * removes the temp dir, also on failure.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';

const ROOT = path.resolve(import.meta.dirname, '..');
const MAIN = path.join(ROOT, 'dist', 'storage', 'main.js');
const RESULTS = path.join(ROOT, 'bench', 'results', 'object-store.json');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROUNDS = arg('--rounds', 3);
const MiB = 1024 * 1024;
const TARGETS = { largeVsDisk: 0.7, smallPutOps: 3000 };

const { freePort } = await import(path.join(ROOT, 'dist', 'lib', 'net.js'));
const sig = await import(path.join(ROOT, 'dist', 'storage', 'sigv4.js'));
const { STORE_ENV } = await import(path.join(ROOT, 'dist', 'storage', 'store-config.js'));
const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-store-'));
let store = null;

const BUCKET = {
  name: 'bench-bucket',
  accessKeyId: 'BENCHKEY',
  secretAccessKey: crypto.randomBytes(30).toString('base64url'),
  public: false,
};

async function cleanup() {
  if (store && store.exitCode === null) {
    store.kill('SIGTERM');
    await Promise.race([new Promise((r) => store.once('exit', r)), sleep(5000)]);
    if (store.exitCode === null) store.kill('SIGKILL');
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}
for (const s of ['SIGINT', 'SIGTERM']) {
  process.on(s, () => cleanup().then(() => process.exit(130)));
}

async function startStore() {
  const port = await freePort();
  const config = path.join(tmp, 'store.json');
  fs.writeFileSync(
    config,
    JSON.stringify({
      generation: 1,
      region: 'us-east-1',
      storageHosts: [],
      buckets: [BUCKET],
      publicHosts: {},
    }),
  );
  store = spawn(
    process.execPath,
    [
      MAIN,
      '--data',
      path.join(tmp, 'data'),
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--config',
      config,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...STORE_ENV } },
  );
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/_berth/status`);
      if (r.ok) return port;
    } catch {}
    await sleep(50);
  }
  throw new Error('the store did not start');
}

function signedHeaders(host, method, urlPath, extra = {}) {
  const amzDate = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const date = amzDate.slice(0, 8);
  const headers = new Map([
    ['host', host],
    ['x-amz-content-sha256', 'UNSIGNED-PAYLOAD'],
    ['x-amz-date', amzDate],
  ]);
  const signed = ['host', 'x-amz-content-sha256', 'x-amz-date'];
  const canonical = sig.canonicalRequest({
    method,
    canonicalUri: sig.canonicalUri(urlPath),
    canonicalQuery: '',
    headers,
    signedHeaders: signed,
    payloadHash: 'UNSIGNED-PAYLOAD',
  });
  const scope = sig.credentialScope(date, 'us-east-1', 's3');
  const key = sig.signingKey(BUCKET.secretAccessKey, date, 'us-east-1', 's3');
  const signature = sig.signHex(key, sig.stringToSign(amzDate, scope, canonical));
  return {
    ...Object.fromEntries(headers),
    ...extra,
    authorization: `AWS4-HMAC-SHA256 Credential=${BUCKET.accessKeyId}/${scope}, SignedHeaders=${signed.join(';')}, Signature=${signature}`,
  };
}

function* chunks(total, chunk) {
  const buf = Buffer.alloc(chunk, 0x5a);
  for (let sent = 0; sent < total; sent += chunk)
    yield sent + chunk <= total ? buf : buf.subarray(0, total - sent);
}

async function put(pool, host, key, size, body) {
  const p = `/${BUCKET.name}/${key}`;
  const r = await pool.request({
    method: 'PUT',
    path: p,
    headers: signedHeaders(host, 'PUT', p, { 'content-length': String(size) }),
    body: body ?? chunks(size, MiB),
  });
  await r.body.dump();
  if (r.statusCode !== 200) throw new Error(`PUT ${key}: ${r.statusCode}`);
}

async function get(pool, host, key) {
  const p = `/${BUCKET.name}/${key}`;
  const r = await pool.request({ method: 'GET', path: p, headers: signedHeaders(host, 'GET', p) });
  let n = 0;
  for await (const c of r.body) n += c.length;
  if (r.statusCode !== 200) throw new Error(`GET ${key}: ${r.statusCode}`);
  return n;
}

/** Runs `task(i)` for i in [0, count) with `concurrency` at a time; returns seconds. */
async function timed(count, concurrency, task) {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await task(next++);
    }),
  );
  return (performance.now() - t0) / 1000;
}

function diskWrite(dir, count, size, concurrency) {
  fs.mkdirSync(dir, { recursive: true });
  const data = Buffer.alloc(Math.min(size, MiB), 0x5a);
  return timed(count, concurrency, async (i) => {
    const fh = await fs.promises.open(path.join(dir, `f${i}`), 'w');
    for (let w = 0; w < size; w += data.length) await fh.write(data, 0, Math.min(data.length, size - w));
    await fh.sync();
    await fh.close();
  });
}

function diskRead(dir, count, concurrency) {
  return timed(count, concurrency, async (i) => {
    const fh = await fs.promises.open(path.join(dir, `f${i}`), 'r');
    const buf = Buffer.allocUnsafe(MiB);
    while ((await fh.read(buf, 0, MiB, null)).bytesRead > 0);
    await fh.close();
  });
}

/** CPU seconds (user + system) a process has used: the store's cost per MiB does not depend on the box's load. */
function cpuOf(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Runs fn; returns its result and the store's CPU seconds meanwhile. */
async function withCpu(fn) {
  const before = cpuOf(store.pid);
  const value = await fn();
  return { value, cpu: cpuOf(store.pid) - before };
}

function rssOf(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

const best = (xs) => Math.max(...xs);
const round = (x, d = 1) => Number(x.toFixed(d));

async function main() {
  const port = await startStore();
  const host = `127.0.0.1:${port}`;
  // Idle connections are let go well before the store's 30 s keep-alive timeout (no reuse race).
  const pool = new Pool(`http://${host}`, {
    connections: 64,
    pipelining: 1,
    keepAliveTimeout: 5000,
    keepAliveMaxTimeout: 5000,
  });
  const results = { at: new Date().toISOString(), rounds: ROUNDS, rows: {} };
  const cases = [
    { name: '1 MiB', size: MiB, count: 256, concurrency: 4 },
    { name: '64 MiB', size: 64 * MiB, count: 8, concurrency: 2 },
  ];
  for (const c of cases) {
    const storePut = [];
    const storeGet = [];
    const putCpu = [];
    const getCpu = [];
    const diskPut = [];
    const diskGet = [];
    const mb = (c.size * c.count) / MiB;
    for (let r = 0; r < ROUNDS; r++) {
      const dir = path.join(tmp, `disk-${r}`);
      diskPut.push(mb / (await diskWrite(dir, c.count, c.size, c.concurrency)));
      diskGet.push(mb / (await diskRead(dir, c.count, c.concurrency)));
      fs.rmSync(dir, { recursive: true, force: true });
      const key = (i) => `${c.name.replace(' ', '')}/${r}/${i}`;
      const p = await withCpu(() => timed(c.count, c.concurrency, (i) => put(pool, host, key(i), c.size)));
      storePut.push(mb / p.value);
      putCpu.push((p.cpu * 1000) / mb);
      const g = await withCpu(() => timed(c.count, c.concurrency, (i) => get(pool, host, key(i))));
      storeGet.push(mb / g.value);
      getCpu.push((g.cpu * 1000) / mb);
      log(
        `${c.name} round ${r + 1}: PUT ${round(storePut[r])} MB/s (disk ${round(diskPut[r])}), GET ${round(storeGet[r])} MB/s (disk ${round(diskGet[r])})`,
      );
    }
    results.rows[c.name] = {
      putMBs: round(best(storePut)),
      diskWriteMBs: round(best(diskPut)),
      putVsDisk: round(best(storePut) / best(diskPut), 2),
      getMBs: round(best(storeGet)),
      diskReadMBs: round(best(diskGet)),
      getVsDisk: round(best(storeGet) / best(diskGet), 2),
      putCpuMsPerMiB: round(Math.min(...putCpu), 2),
      getCpuMsPerMiB: round(Math.min(...getCpu), 2),
    };
  }

  const small = Buffer.alloc(4096, 0x61);
  const smallPut = [];
  const smallGet = [];
  const diskSmall = [];
  const smallPutCpu = [];
  const smallGetCpu = [];
  const N = 6000;
  for (let r = 0; r < ROUNDS; r++) {
    const dir = path.join(tmp, `small-${r}`);
    diskSmall.push(N / (await diskWrite(dir, N, 4096, 32)));
    fs.rmSync(dir, { recursive: true, force: true });
    const p = await withCpu(() => timed(N, 32, (i) => put(pool, host, `small/${r}/${i}`, 4096, small)));
    smallPut.push(N / p.value);
    smallPutCpu.push((p.cpu * 1e6) / N);
    const g = await withCpu(() => timed(N, 32, (i) => get(pool, host, `small/${r}/${i}`)));
    smallGet.push(N / g.value);
    smallGetCpu.push((g.cpu * 1e6) / N);
    log(
      `4 KiB round ${r + 1}: PUT ${Math.round(smallPut[r])}/s (disk ${Math.round(diskSmall[r])}/s), GET ${Math.round(smallGet[r])}/s`,
    );
  }
  results.rows['4 KiB'] = {
    putOps: Math.round(best(smallPut)),
    getOps: Math.round(best(smallGet)),
    diskWriteFsyncOps: Math.round(best(diskSmall)),
    putCpuUsPerOp: Math.round(Math.min(...smallPutCpu)),
    getCpuUsPerOp: Math.round(Math.min(...smallGetCpu)),
  };

  // RSS while a 1 GiB object streams in: sampled every 100 ms.
  const samples = [];
  const before = rssOf(store.pid);
  const sampler = setInterval(() => samples.push(rssOf(store.pid)), 100);
  const t0 = performance.now();
  await put(pool, host, 'one-gib', 1024 * MiB);
  const secs = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  results.rows['1 GiB upload'] = {
    seconds: round(secs),
    MBs: round(1024 / secs),
    rssBeforeMB: round(before),
    rssMaxMB: round(Math.max(...samples, before)),
    samples: samples.length,
  };
  await pool.close();

  const r1 = results.rows['1 MiB'];
  const r64 = results.rows['64 MiB'];
  const rs = results.rows['4 KiB'];
  const rg = results.rows['1 GiB upload'];
  const pass = (ok) => (ok ? 'PASS' : 'MISS');
  const lines = [
    ['row', 'store', 'disk', 'store CPU', 'ratio / target'],
    [
      'PUT 1 MiB',
      `${r1.putMBs} MB/s`,
      `${r1.diskWriteMBs} MB/s`,
      `${r1.putCpuMsPerMiB} ms/MiB`,
      `${r1.putVsDisk} (≥ ${TARGETS.largeVsDisk}) ${pass(r1.putVsDisk >= TARGETS.largeVsDisk)}`,
    ],
    [
      'GET 1 MiB',
      `${r1.getMBs} MB/s`,
      `${r1.diskReadMBs} MB/s`,
      `${r1.getCpuMsPerMiB} ms/MiB`,
      `${r1.getVsDisk}`,
    ],
    [
      'PUT 64 MiB',
      `${r64.putMBs} MB/s`,
      `${r64.diskWriteMBs} MB/s`,
      `${r64.putCpuMsPerMiB} ms/MiB`,
      `${r64.putVsDisk} (≥ ${TARGETS.largeVsDisk}) ${pass(r64.putVsDisk >= TARGETS.largeVsDisk)}`,
    ],
    [
      'GET 64 MiB',
      `${r64.getMBs} MB/s`,
      `${r64.diskReadMBs} MB/s`,
      `${r64.getCpuMsPerMiB} ms/MiB`,
      `${r64.getVsDisk}`,
    ],
    [
      'PUT 4 KiB',
      `${rs.putOps}/s`,
      `${rs.diskWriteFsyncOps}/s`,
      `${rs.putCpuUsPerOp} µs/op`,
      `(≥ ${TARGETS.smallPutOps}) ${pass(rs.putOps >= TARGETS.smallPutOps)}`,
    ],
    ['GET 4 KiB', `${rs.getOps}/s`, '', `${rs.getCpuUsPerOp} µs/op`, ''],
    ['RSS, 1 GiB PUT', `${rg.rssBeforeMB} → max ${rg.rssMaxMB} MB`, '', '', `${rg.MBs} MB/s`],
  ];
  for (const l of lines)
    process.stdout.write(`${l[0].padEnd(16)}${l[1].padEnd(26)}${l[2].padEnd(14)}${l[3].padEnd(14)}${l[4]}\n`);
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
}

try {
  await main();
  await cleanup();
} catch (err) {
  log(`failed: ${err.stack ?? err}`);
  await cleanup();
  process.exit(1);
}
