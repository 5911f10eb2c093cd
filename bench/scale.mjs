#!/usr/bin/env node
/**
 * Scale latency (`node bench/scale.mjs [--rounds 3]`, after `npm run build`): its own `berth server` (built-in
 * edge) in a temp dir deploys a warm Node app (test/fixtures/apps/env-echo: answers its RAILWAY_REPLICA_ID), then
 * times `berth scale --replicas 4` from spawning the CLI until the edge has answered from all four replicas (and,
 * for reference, until the CLI returned; the server's own share from its deployment log; `berth status` alone as the
 * CLI's round trip on this machine now), then scales back to 1 and waits until one replica runs. Median of the
 * rounds against the target (≤ 2 s). Writes bench/results/scale.json; stops the server, its edge and replicas
 * (`berth server stop --all`, then by process group) and removes the temp dir, also on failure.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { CLI, createBench, log, numberArg, ROOT, waitUntil, writeJson } from './lib/berth-server.mjs';

const RESULTS = path.join(ROOT, 'bench', 'results', 'scale.json');
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'apps', 'env-echo');
const ROUNDS = numberArg('--rounds', 3);
const TO = 4;
const TARGET_S = 2;

const bench = createBench('scale');
const tmp = bench.tmp;

/** Of an even count the mean of the two middle values (unlike the other benches: the committed figures use it). */
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

try {
  const server = await bench.startServer({ args: ['--edge', 'builtin', '--no-https'] });
  const { httpPort, env } = server;
  const cli = (args) => server.cli(args, { timeout: 180_000 });
  const scope = ['-p', 'bench', '-s', 'web'];
  cli(['init', '--name', 'bench']);
  cli(['add', '--service', 'web', '-p', 'bench']);
  const app = path.join(tmp, 'app');
  fs.cpSync(FIXTURE, app, { recursive: true });
  cli(['up', app, ...scope]);
  const host = 'web-bench.localhost';
  const replicaOf = async () => {
    const res = await request(`http://127.0.0.1:${httpPort}/RAILWAY_REPLICA_ID`, {
      headers: { host },
      reset: true,
    });
    const body = await res.body.text();
    return res.statusCode === 200 ? body : null;
  };
  await waitUntil('the app to serve', async () => (await replicaOf()) !== null);
  const running = () => JSON.parse(cli(['status', '--json', '-p', 'bench'])).services[0].replicas;

  const rounds = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const tStatus = performance.now();
    cli(['status', '-p', 'bench']);
    const statusS = (performance.now() - tStatus) / 1000;
    const before = new Set([await replicaOf()]);
    const seen = new Set();
    let servingS = null;
    const t0 = performance.now();
    const wall0 = Date.now();
    const scale = new Promise((resolve, reject) =>
      execFile(process.execPath, [CLI, 'scale', '--replicas', String(TO), ...scope], { env }, (err) =>
        err ? reject(err) : resolve((performance.now() - t0) / 1000),
      ),
    );
    // Four clients through the edge until every new replica has answered one of them.
    const poll = async () => {
      while (servingS === null && performance.now() - t0 < 60_000) {
        const id = await replicaOf().catch(() => null);
        if (id && !before.has(id)) seen.add(id);
        if (seen.size >= TO - 1 && servingS === null) servingS = (performance.now() - t0) / 1000;
      }
    };
    await Promise.all([poll(), poll(), poll(), poll()]);
    const cliS = await scale;
    if (servingS === null)
      throw new Error(`the new replicas did not all answer within 60 s (saw ${seen.size})`);
    // The server's share: from its "Scaling from 1 to 4" line to "4/4 replicas healthy" (its deployment log).
    const lines = cli(['logs', '--json', '-n', '100', ...scope])
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((e) => e.type === 'log');
    const from = lines.findLast((e) => e.message.startsWith(`Scaling from 1 to ${TO}`));
    const to = lines.findLast((e) => e.message === `${TO}/${TO} replicas healthy`);
    const serverS = from && to ? (Date.parse(to.time) - Date.parse(from.time)) / 1000 : null;
    const startedS = from ? (Date.parse(from.time) - wall0) / 1000 : null;
    rounds.push({ servingS, cliS, serverS, startedS, statusS });
    log(
      `round ${round}/${ROUNDS}: 1 → ${TO} serving after ${servingS.toFixed(2)} s (berth status alone ${statusS.toFixed(2)} s; the server started scaling at ${startedS?.toFixed(2)} s and took ${serverS?.toFixed(2)} s; CLI returned after ${cliS.toFixed(2)} s)`,
    );
    cli(['scale', '--replicas', '1', ...scope]);
    await waitUntil('one replica again', async () => running() === 1);
  }
  const servingS = median(rounds.map((r) => r.servingS));
  const cliS = median(rounds.map((r) => r.cliS));
  console.log(`berth scale --replicas 1 → ${TO}, ${ROUNDS} rounds (median)`);
  console.log(
    `until all ${TO - 1} new replicas answered through the edge: ${servingS.toFixed(2)} s (target <= ${TARGET_S} s) ${servingS <= TARGET_S ? 'PASS' : 'MISS'}`,
  );
  console.log(`until the CLI returned: ${cliS.toFixed(2)} s`);
  const serverS = median(rounds.map((r) => r.serverS ?? Number.NaN));
  console.log(`the server's share (start of scaling to all healthy): ${serverS.toFixed(2)} s`);
  const statusS = median(rounds.map((r) => r.statusS));
  console.log(
    `berth status alone (the CLI's start and one request, on this machine now): ${statusS.toFixed(2)} s`,
  );
  writeJson(RESULTS, { at: new Date().toISOString(), rounds, servingS, cliS, serverS, statusS });
  await bench.cleanup();
} catch (err) {
  log(`failed: ${err instanceof Error ? err.message : String(err)}`);
  await bench.cleanup();
  process.exit(1);
}
