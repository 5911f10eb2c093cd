#!/usr/bin/env node
/**
 * Berth benchmark (`npm run bench`): starts its own `berth server` in a temp dir on free ports and measures,
 * in one run,
 *   1. cold deploy + warm redeploy of a Node app with a dependency (CLI start → new version served by the edge),
 *   2. rollback (CLI start → previous version served by the edge),
 *   3. throughput and p99, same app, same load tool (wrk, or autocannon when wrk is missing), of
 *      (a) the app hit directly, (b) Berth's HAProxy edge, (c) Berth's built-in edge, (d) a hand-written
 *      nginx reverse-proxy config (when nginx is installed),
 *   4. idle RSS of the control plane + the edge.
 *   5. `git push` → serving for a warm Node app, and creating a preview environment (a feature-branch push) of
 *      a 3-service monorepo until all three preview URLs serve the branch.
 *   6. cold and warm builds of the Node, Python and SPA fixtures (bench/builds.mjs).
 *   7. provisioning a managed PostgreSQL (`berth add --database postgres` until it accepts connections).
 * Prints a table against the targets and writes bench/results/latest.json. Everything it started is stopped by
 * pid and the temp dir removed, also on failure or Ctrl-C. See bench/README.md.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { benchBuilds, buildRows, summarize } from './builds.mjs';

const ROOT = path.resolve(import.meta.dirname, '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'apps');
const RESULTS = path.join(ROOT, 'bench', 'results', 'latest.json');

const PROJECT = 'bench';
const WEB = 'web'; // node-deps fixture (one npm dependency)
const HELLO = 'hello'; // tiny Procfile http app for the throughput runs
const WARM_RUNS = 3;
const ROLLBACK_RUNS = 3;
const LOAD = { threads: 1, connections: 50, seconds: 10 };
/** Rounds of every load variant; the best is reported (the box is shared, so single runs swing ±30 %). */
const LOAD_ROUNDS = 3;
const GIT_PROJECT = 'benchgit';
const PREVIEW_PROJECT = 'benchpreview';
const PREVIEW_SERVICES = ['api', 'web', 'worker'];
const GIT_RUNS = 3;
const PG_PROJECT = 'benchpg';
const PG_RUNS = 3;
/** pgbench: select-only transactions, 8 clients, seconds per run, rounds of (Berth, hand-started). */
const PGBENCH = { scale: 10, clients: 8, threads: 2, seconds: 10, rounds: 3 };
const PG_BIN = '/usr/lib/postgresql/15/bin';
const TARGETS = {
  /** Berth's PostgreSQL vs the same server started by hand with the same settings (issue 16). */
  pgbenchVsHand: 0.95,
  /** `berth add --database postgres` until it accepts connections (issue 16). */
  provisionS: 3,
  warmRedeployS: 10,
  gitPushS: 10,
  previewS: 15,
  rollbackS: 2,
  /** The built-in edge's req/s. */
  edgeRps: 25_000,
  /** Edge cache hits (issue 3). */
  cacheRps: 50_000,
  /** Berth on HAProxy vs. hand-written nginx, and vs. the app direct (issue 3). */
  haproxyVsNginx: 0.95,
  haproxyVsDirect: 0.9,
  idleRssMB: 150,
};

// ---------------------------------------------------------------- small helpers

const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x, digits = 2) => (x == null ? null : Number(x.toFixed(digits)));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Signals a process group (Berth starts the daemon, edge and replicas as group leaders), else the pid. */
function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

async function waitUntil(what, check, { timeoutMs = 30_000, intervalMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastErr;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (${lastErr.message})` : ''}`,
      );
    }
    await sleep(intervalMs);
  }
}

function rssKB(pid) {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Sum of a /proc status field (VmRSS, VmHWM) over process group pgid (HAProxy's master + workers). */
/**
 * The processes of a process group: pid and the fields of /proc/<pid>/stat after the command name (f[0] is
 * field 3, state; f[2] field 5, pgrp; f[11] and f[12] utime and stime).
 */
function groupStats(pgid) {
  const out = [];
  for (const ent of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(ent)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${ent}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid) out.push({ pid: Number(ent), f });
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

function groupKB(pgid, field) {
  if (!pgid) return null;
  let total = 0;
  let found = false;
  for (const { pid } of groupStats(pgid)) {
    try {
      const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(
        fs.readFileSync(`/proc/${pid}/status`, 'utf8'),
      );
      if (m) {
        total += Number(m[1]);
        found = true;
      }
    } catch {
      /* exited meanwhile */
    }
  }
  return found ? total : null;
}

function hwmKB(pid) {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time (seconds, user and system) of every process in process group pgid, from /proc. */
/** Sets the CPU affinity (a taskset list such as "0" or "0-1") of every thread of a process group. */
function pinGroup(pgid, cpus) {
  for (const { pid } of groupStats(pgid)) {
    try {
      execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
    } catch {
      /* exited meanwhile */
    }
  }
}

function groupCpu(pgid) {
  let user = 0;
  let sys = 0;
  for (const { f } of groupStats(pgid)) {
    user += Number(f[11]);
    sys += Number(f[12]);
  }
  return { user: user / CLK_TCK, sys: sys / CLK_TCK };
}

// ---------------------------------------------------------------- the Berth instance under test

const children = new Set(); // CLI runs and load generators in flight, killed on abort
const state = {
  tmp: null,
  dataDir: null,
  daemon: null,
  apiPort: 0,
  httpPort: 0,
  httpsPort: 0,
  token: '',
  /** The daemon's edge driver: haproxy when installed, else builtin. */
  edgeKind: 'builtin',
  /** The standalone built-in edge of (c), when the daemon runs HAProxy. */
  builtinEdgePid: null,
  knownPids: new Set(),
};

function env() {
  return {
    ...process.env,
    BERTH_URL: `http://127.0.0.1:${state.apiPort}`,
    BERTH_TOKEN: state.token,
    BERTH_CLI_CONFIG: path.join(state.tmp, 'cli.json'),
    BERTH_NO_AUTOSTART: '1',
    NO_COLOR: '1',
  };
}

async function startServer() {
  state.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-'));
  state.dataDir = path.join(state.tmp, 'data');
  state.apiPort = await freePort();
  state.httpPort = await freePort();
  state.httpsPort = await freePort();
  const out = fs.openSync(path.join(state.tmp, 'server.log'), 'a');
  state.daemon = spawn(
    process.execPath,
    [
      CLI,
      'server',
      '--data-dir',
      state.dataDir,
      '--api-port',
      String(state.apiPort),
      '--http-port',
      String(state.httpPort),
      '--edge',
      state.edgeKind,
      '--https-port',
      String(state.httpsPort),
    ],
    {
      stdio: ['ignore', out, out],
      detached: true,
      // Private domains go to a scratch hosts file: the bench must not leave names in /etc/hosts.
      env: { ...process.env, BERTH_HOSTS_FILE: path.join(state.tmp, 'hosts') },
    },
  );
  fs.closeSync(out);
  await waitUntil(
    'berth server to answer /v1/health',
    async () => {
      if (state.daemon.exitCode !== null) throw new Error(`server exited:\n${serverLog()}`);
      const res = await request(`http://127.0.0.1:${state.apiPort}/v1/health`);
      await res.body.dump();
      return res.statusCode === 200;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  state.token = fs.readFileSync(path.join(state.dataDir, 'admin-token'), 'utf8').trim();
  rememberPids();
}

function serverLog() {
  try {
    return fs.readFileSync(path.join(state.tmp, 'server.log'), 'utf8').slice(-4000);
  } catch {
    return '';
  }
}

/** Pid (a process group leader) of the daemon's edge: HAProxy's master or the built-in edge. */
function edgePid() {
  return pidFrom(
    path.join(state.dataDir, 'edge', state.edgeKind === 'haproxy' ? 'haproxy/haproxy.pid' : 'edge.pid'),
  );
}

/** Pid of HAProxy's helper built-in edge (static sites, ACME, private endpoints, request log ingest), or null. */
function helperPid() {
  return state.edgeKind === 'haproxy'
    ? pidFrom(path.join(state.dataDir, 'edge', 'haproxy', 'static', 'edge.pid'))
    : null;
}

function pidFrom(file) {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Edge pid + every replica pid in Berth's own state; remembered so cleanup can reach them later. */
function rememberPids() {
  const pids = [];
  for (const f of ['edge.pid', 'haproxy/haproxy.pid', 'haproxy/static/edge.pid']) {
    const e = pidFrom(path.join(state.dataDir, 'edge', f));
    if (e) pids.push(e);
  }
  try {
    const db = new Database(path.join(state.dataDir, 'state.db'), { readonly: true, fileMustExist: true });
    try {
      // Replicas, cron runs and data services' engines: the pid of each workload's process handle.
      const sql =
        "SELECT json_extract(handle_json, '$.pid') AS pid FROM workloads WHERE handle_json IS NOT NULL";
      for (const r of db.prepare(sql).all()) pids.push(r.pid);
    } finally {
      db.close();
    }
  } catch {
    /* no state yet */
  }
  for (const p of pids) if (Number.isInteger(p) && p > 0) state.knownPids.add(p);
  return pids;
}

let cleaned = null;
let aborting = false;
function cleanup() {
  cleaned ??= (async () => {
    for (const c of children) if (c.exitCode === null) signalGroup(c.pid, 'SIGKILL');
    if (state.dataDir) rememberPids();
    const d = state.daemon;
    if (d && d.exitCode === null && d.signalCode === null) {
      const gone = new Promise((r) => d.once('exit', r));
      d.kill('SIGTERM');
      await Promise.race([gone, sleep(5000)]);
      if (d.exitCode === null && d.signalCode === null) signalGroup(d.pid, 'SIGKILL');
    }
    if (state.dataDir) rememberPids();
    const pids = [...state.knownPids];
    for (const p of pids) signalGroup(p, 'SIGTERM');
    const deadline = Date.now() + 3000;
    while (pids.some(alive) && Date.now() < deadline) await sleep(50);
    for (const p of pids) if (alive(p)) signalGroup(p, 'SIGKILL');
    if (state.tmp) fs.rmSync(state.tmp, { recursive: true, force: true });
    if (state.handPgDir) fs.rmSync(state.handPgDir, { recursive: true, force: true });
  })();
  return cleaned;
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    aborting = true;
    log(`${sig}: stopping everything the benchmark started`);
    cleanup().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  });
}

async function api(p) {
  const res = await request(`http://127.0.0.1:${state.apiPort}${p}`, {
    headers: { authorization: `Bearer ${state.token}` },
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET ${p} → ${res.statusCode}: ${text}`);
  return JSON.parse(text);
}

const hostFor = (service) => `${service}-${PROJECT}.localhost`;

async function edgeGet(host) {
  const res = await request(`http://127.0.0.1:${state.httpPort}/`, {
    headers: { host },
    headersTimeout: 3000,
    bodyTimeout: 3000,
  });
  return { status: res.statusCode, body: await res.body.text() };
}

/**
 * Runs `berth ARGS --json` and, while it runs, polls the edge until `served(body)` is true.
 * Returns seconds from the CLI's start to the first matching response, plus the CLI's own timeline.
 */
async function timedUntilServed(args, cwd, host, served, { timeoutMs = 300_000 } = {}) {
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, ...args, '--json'], { cwd, env: env(), stdio: 'pipe' });
  children.add(child);
  const events = [];
  let buf = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    buf += chunk;
    let i = buf.indexOf('\n');
    while (i >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      i = buf.indexOf('\n');
      if (!line.trim()) continue;
      try {
        events.push({ atS: (performance.now() - t0) / 1000, ...JSON.parse(line) });
      } catch {
        events.push({ atS: (performance.now() - t0) / 1000, raw: line });
      }
    }
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal, atS: (performance.now() - t0) / 1000 });
    }),
  );
  let exit = null;
  exited.then((e) => {
    exit = e;
  });

  let servedAtS = null;
  while (servedAtS === null) {
    try {
      const r = await edgeGet(host);
      if (r.status === 200 && served(r.body)) {
        servedAtS = (performance.now() - t0) / 1000;
        break;
      }
    } catch {
      /* edge busy or replica switching; keep polling */
    }
    if (exit && exit.code !== 0) {
      throw new Error(`berth ${args.join(' ')} failed (exit ${exit.code ?? exit.signal}):\n${stderr}`);
    }
    if (exit && exit.atS * 1000 + 15_000 < performance.now() - t0) {
      throw new Error(`berth ${args.join(' ')} succeeded but the edge never served the new version`);
    }
    if (performance.now() - t0 > timeoutMs) {
      signalGroup(child.pid, 'SIGKILL');
      throw new Error(`berth ${args.join(' ')} did not get served within ${timeoutMs} ms`);
    }
    await sleep(10);
  }
  const done = await exited;
  if (done.code !== 0) throw new Error(`berth ${args.join(' ')} exited ${done.code}:\n${stderr}`);
  const deploymentId = events.find((e) => e.type === 'deployment')?.deploymentId ?? null;
  return { servedS: servedAtS, cliExitS: done.atS, deploymentId, events, t0 };
}

/** Waits until the service has no deployment in progress and exactly one SUCCESS (the old one retired). */
async function settled(service) {
  await waitUntil(
    `${service} to settle (one SUCCESS deployment, the previous one retired)`,
    async () => {
      const list = await api(
        `/v1/projects/${PROJECT}/environments/production/services/${service}/deployments`,
      );
      if (list.some((d) => ['QUEUED', 'BUILDING', 'DEPLOYING'].includes(d.status))) return false;
      return list.filter((d) => d.status === 'SUCCESS').length === 1;
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  rememberPids();
}

/** A compact view of where a deploy's time went: each distinct step with its offset from the CLI's start. */
function timeline(run) {
  const steps = [];
  const first = (pred) => run.events.find(pred);
  const accepted = first((e) => e.type === 'deployment');
  if (accepted) steps.push({ step: 'upload accepted (deployment created)', atS: accepted.atS });
  for (const e of run.events) {
    if (e.type === 'status')
      steps.push({ step: `status ${e.status}`, atS: e.atS, serverTime: e.time ?? null });
    else if (e.type === 'log' && (e.stream === 'system' || e.stream === 'build')) {
      steps.push({
        step: `${e.stream}: ${String(e.message).slice(0, 90)}`,
        atS: e.atS,
        serverTime: e.time ?? null,
      });
    }
  }
  steps.push({ step: 'new version served by the edge', atS: run.servedS });
  steps.push({ step: 'CLI exited', atS: run.cliExitS });
  return steps.map((s) => ({ ...s, atS: round(s.atS, 3) }));
}

// ---------------------------------------------------------------- 1 + 2: deploys and rollbacks

function prepareWebApp(name = WEB) {
  const dir = path.join(state.tmp, 'apps', name);
  fs.cpSync(path.join(FIXTURES, 'node-deps'), dir, {
    recursive: true,
    filter: (src) => path.basename(src) !== 'node_modules',
  });
  // Make the version part of the source: a file next to server.js, so each `up` ships changed code while
  // package-lock.json stays the same (→ dependency cache hit on warm deploys).
  const file = path.join(dir, 'server.js');
  const src = fs.readFileSync(file, 'utf8');
  const patched = src.replace(
    "process.env.APP_VERSION || 'v1'",
    "require('node:fs').readFileSync(require('node:path').join(__dirname, 'VERSION'), 'utf8').trim()",
  );
  if (patched === src)
    throw new Error('could not patch node-deps/server.js to read VERSION; did the fixture change?');
  fs.writeFileSync(file, patched);
  return dir;
}

const versionOf = (body) => {
  try {
    return JSON.parse(body).version;
  } catch {
    return null;
  }
};

async function deployVersion(dir, version) {
  fs.writeFileSync(path.join(dir, 'VERSION'), `${version}\n`);
  const run = await timedUntilServed(
    ['up', dir, '-p', PROJECT, '-s', WEB, '-m', `bench ${version}`],
    dir,
    hostFor(WEB),
    (body) => versionOf(body) === version,
  );
  await settled(WEB);
  return { version, ...run };
}

async function benchDeploys() {
  const dir = prepareWebApp();
  log('cold deploy (first up: creates project/service, npm ci into an empty cache)…');
  const cold = await deployVersion(dir, 'v1');
  log(`  v1 served after ${cold.servedS.toFixed(2)} s`);
  const warm = [];
  for (let i = 0; i < WARM_RUNS; i++) {
    const version = `v${i + 2}`;
    log(`warm redeploy ${i + 1}/${WARM_RUNS} (${version}, same lockfile)…`);
    const r = await deployVersion(dir, version);
    log(`  ${version} served after ${r.servedS.toFixed(2)} s`);
    warm.push(r);
  }

  // Rollback toggles: the default target is the previous successful deployment before the active one.
  let current = `v${WARM_RUNS + 1}`;
  let previous = `v${WARM_RUNS}`;
  const rollbacks = [];
  for (let i = 0; i < ROLLBACK_RUNS; i++) {
    log(`rollback ${i + 1}/${ROLLBACK_RUNS} (${current} → ${previous})…`);
    const expected = previous;
    const r = await timedUntilServed(
      ['rollback', '-p', PROJECT, '-s', WEB],
      state.tmp,
      hostFor(WEB),
      (body) => versionOf(body) === expected,
    );
    await settled(WEB);
    log(`  ${expected} served after ${r.servedS.toFixed(2)} s`);
    rollbacks.push({ from: current, to: expected, ...r });
    [current, previous] = [previous, current];
  }
  return { cold, warm, rollbacks };
}

// ---------------------------------------------------------------- 6: builds of the Node, Python and SPA fixtures

/** The build rows: Node from the deploy rows' node-deps runs (the server's first deploy), Python and SPA here. */
async function benchFixtureBuilds(deploys) {
  const node = summarize('Node', 'node-deps (npm ci, one dependency)', deploys.cold, deploys.warm);
  const others = await benchBuilds({
    project: PROJECT,
    tmp: state.tmp,
    fixtures: FIXTURES,
    log,
    cli: cliSync,
    up: async (dir, service, served) => {
      const run = await timedUntilServed(
        ['up', dir, '-p', PROJECT, '-s', service, '-m', 'bench build'],
        dir,
        hostFor(service),
        served,
      );
      await settled(service);
      return run;
    },
  });
  return { node, ...others };
}

// ---------------------------------------------------------------- 5: git push and preview environments

function gitEnv() {
  return { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', HOME: state.tmp };
}

function gitSync(args, cwd) {
  return execFileSync('git', ['-c', 'user.name=Bench', '-c', 'user.email=bench@example.com', ...args], {
    cwd,
    env: gitEnv(),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

const gitRemote = (project) => `http://bench:${state.token}@127.0.0.1:${state.apiPort}/git/${project}.git`;

function cliSync(args, cwd) {
  return execFileSync(process.execPath, [CLI, ...args], { cwd, env: env(), encoding: 'utf8', stdio: 'pipe' });
}

/**
 * Runs `git push` and polls every host until `served(body)` holds; returns seconds from spawning git to
 * the last host serving, and to git's exit (which waits for every deployment to finish).
 */
async function timedPush(cwd, project, refspec, hosts, served, { timeoutMs = 300_000 } = {}) {
  const t0 = performance.now();
  const child = spawn('git', ['push', gitRemote(project), refspec], { cwd, env: gitEnv(), stdio: 'pipe' });
  children.add(child);
  let output = '';
  child.stdout.on('data', (c) => {
    output += c;
  });
  child.stderr.on('data', (c) => {
    output += c;
  });
  const exited = new Promise((resolve) =>
    child.on('exit', (code) => {
      children.delete(child);
      resolve({ code, atS: (performance.now() - t0) / 1000 });
    }),
  );
  let exit = null;
  exited.then((e) => {
    exit = e;
  });
  const servedAt = new Map();
  while (servedAt.size < hosts.length) {
    for (const host of hosts) {
      if (servedAt.has(host)) continue;
      try {
        const r = await edgeGet(host);
        if (r.status === 200 && served(r.body)) servedAt.set(host, (performance.now() - t0) / 1000);
      } catch {
        /* not routed yet */
      }
    }
    if (exit && exit.code !== 0)
      throw new Error(`git push ${refspec} failed (exit ${exit.code}):\n${output}`);
    if (performance.now() - t0 > timeoutMs) {
      signalGroup(child.pid, 'SIGKILL');
      throw new Error(`git push ${refspec}: not served within ${timeoutMs} ms:\n${output}`);
    }
    await sleep(10);
  }
  const done = await exited;
  if (done.code !== 0) throw new Error(`git push ${refspec} exited ${done.code}:\n${output}`);
  return {
    servedS: Math.max(...servedAt.values()),
    pushExitS: done.atS,
    perHostS: Object.fromEntries(servedAt),
  };
}

/** The node-deps app (same lockfile as the `up` runs, so installs hit the cache) deployed by `git push main`. */
async function benchGitPush() {
  const dir = prepareWebApp('git-web');
  cliSync(['init', '--name', GIT_PROJECT], dir);
  gitSync(['init', '-q', '-b', 'main'], dir);
  const host = `${GIT_PROJECT}-${GIT_PROJECT}.localhost`;
  const push = async (version) => {
    fs.writeFileSync(path.join(dir, 'VERSION'), `${version}\n`);
    gitSync(['add', '-A'], dir);
    gitSync(['commit', '-qm', `bench ${version}`], dir);
    return timedPush(dir, GIT_PROJECT, 'main', [host], (body) => versionOf(body) === version);
  };
  log('git push: first push (creates the repository and the service)…');
  const first = await push('g1');
  log(`  g1 served after ${first.servedS.toFixed(2)} s`);
  const warm = [];
  for (let i = 0; i < GIT_RUNS; i++) {
    const version = `g${i + 2}`;
    log(`git push ${i + 1}/${GIT_RUNS} (${version}, warm)…`);
    const r = await push(version);
    log(`  ${version} served after ${r.servedS.toFixed(2)} s (git exited after ${r.pushExitS.toFixed(2)} s)`);
    warm.push({ version, ...r });
  }
  rememberPids();
  return { first, warm };
}

/**
 * `berth add --database postgres` PG_RUNS times (a new database each): seconds from spawning the CLI to its exit,
 * which comes once the new cluster accepts connections (initdb, first start, the application database).
 */
async function benchPostgres() {
  if (!fs.existsSync('/usr/lib/postgresql')) {
    log('postgres: skipped (install the Debian package postgresql)');
    return null;
  }
  cliSync(['init', '--name', PG_PROJECT], state.tmp);
  const runs = [];
  for (let i = 1; i <= PG_RUNS; i++) {
    const t0 = performance.now();
    cliSync(['add', '--database', 'postgres', '--service', `Pg${i}`, '-p', PG_PROJECT], state.tmp);
    const s = (performance.now() - t0) / 1000;
    log(`postgres ${i}/${PG_RUNS}: provisioned in ${s.toFixed(2)} s`);
    runs.push(s);
  }
  rememberPids();
  return { runs, medianS: median(runs) };
}

/** Runs a program to completion (argv, no shell) and resolves with its stdout; rejects on a non-zero exit. */
function run(argv, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    child.stderr.on('data', (c) => {
      err += c;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      children.delete(child);
      if (code === 0) resolve(out);
      else reject(new Error(`${argv[0]} exited with ${code}: ${(err || out).trim().slice(-500)}`));
    });
  });
}

/**
 * pgbench -S against Berth's database (its private address, as an app reaches it) and against the host's same
 * PostgreSQL started by hand from a fresh initdb with the same settings (as `nobody`, on 127.0.0.1): the best tps
 * of PGBENCH.rounds alternating runs of each.
 */
async function benchPgbench(service) {
  if (!haveBinary('pgbench')) {
    log('pgbench: skipped (it comes with the Debian package postgresql-contrib / postgresql)');
    return null;
  }
  const vars = JSON.parse(cliSync(['variables', '--json', '-s', service, '-p', PG_PROJECT], state.tmp));
  const hostsLine = fs
    .readFileSync(path.join(state.tmp, 'hosts'), 'utf8')
    .split('\n')
    .find((l) => l.trim().split(/\s+/)[1] === vars.PGHOST);
  if (!hostsLine) throw new Error(`${vars.PGHOST} is not in the bench's hosts file`);
  const berth = { host: hostsLine.trim().split(/\s+/)[0], port: 5432 };
  const auth = { PGUSER: vars.PGUSER, PGPASSWORD: vars.PGPASSWORD, PGDATABASE: vars.PGDATABASE };

  // The hand-started one: PostgreSQL refuses root, so `nobody` owns it, in a directory nobody can reach.
  const handDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-handpg-'));
  state.handPgDir = handDir;
  fs.chmodSync(handDir, 0o755);
  const pw = path.join(handDir, 'pw');
  fs.writeFileSync(pw, `${vars.PGPASSWORD}\n`, { mode: 0o600 });
  fs.chownSync(pw, 65534, 65534);
  const data = path.join(handDir, 'data');
  fs.mkdirSync(data, { mode: 0o700 });
  fs.chownSync(data, 65534, 65534);
  const asNobody = ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups', '--'];
  await run([
    ...asNobody,
    `${PG_BIN}/initdb`,
    '-D',
    data,
    '-U',
    vars.PGUSER,
    `--pwfile=${pw}`,
    '--auth=scram-sha-256',
    '--no-sync',
  ]);
  const handPort = await freePort();
  const hand = spawn(
    asNobody[0],
    [
      ...asNobody.slice(1),
      `${PG_BIN}/postgres`,
      '-D',
      data,
      '-p',
      String(handPort),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
    ],
    { detached: true, stdio: 'ignore' },
  );
  state.knownPids.add(hand.pid);
  const handTarget = { host: '127.0.0.1', port: handPort };
  for (let i = 0; ; i++) {
    try {
      await run([`${PG_BIN}/pg_isready`, '-q', '-h', handTarget.host, '-p', String(handTarget.port)]);
      break;
    } catch (err) {
      if (i > 200) throw err;
      await sleep(50);
    }
  }
  await run(
    [
      `${PG_BIN}/psql`,
      '-q',
      '-h',
      handTarget.host,
      '-p',
      String(handTarget.port),
      '-d',
      'postgres',
      '-c',
      `CREATE DATABASE ${vars.PGDATABASE}`,
    ],
    auth,
  );

  const pgbench = (t, args) => run(['pgbench', '-h', t.host, '-p', String(t.port), ...args], auth);
  for (const t of [berth, handTarget]) await pgbench(t, ['-i', '-q', '-s', String(PGBENCH.scale)]);
  const best = { berth: 0, hand: 0 };
  for (let r = 1; r <= PGBENCH.rounds; r++) {
    for (const [key, t] of [
      ['berth', berth],
      ['hand', handTarget],
    ]) {
      const out = await pgbench(t, [
        '-S',
        '-n',
        '-c',
        String(PGBENCH.clients),
        '-j',
        String(PGBENCH.threads),
        '-T',
        String(PGBENCH.seconds),
      ]);
      const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(out)?.[1] ?? 0);
      log(`pgbench ${r}/${PGBENCH.rounds} ${key}: ${Math.round(tps)} tps`);
      best[key] = Math.max(best[key], tps);
    }
  }
  process.kill(-hand.pid, 'SIGINT');
  return { ...best, ratio: best.hand > 0 ? best.berth / best.hand : null };
}

/** Three services of one monorepo; a feature branch push creates their preview environment. */
async function benchPreview() {
  const dir = path.join(state.tmp, 'apps', 'preview-mono');
  for (const svc of PREVIEW_SERVICES) {
    const app = path.join(dir, 'apps', svc);
    fs.mkdirSync(app, { recursive: true });
    fs.writeFileSync(
      path.join(app, 'server.js'),
      [
        "const http = require('node:http');",
        "const version = require('node:fs').readFileSync(require('node:path').join(__dirname, 'VERSION'), 'utf8').trim();",
        "http.createServer((req, res) => res.end(JSON.stringify({ version }))).listen(Number(process.env.PORT), '0.0.0.0');",
        '',
      ].join('\n'),
    );
    fs.writeFileSync(path.join(app, 'VERSION'), 'main\n');
    fs.writeFileSync(path.join(app, 'railway.toml'), '[deploy]\nstartCommand = "node server.js"\n');
  }
  cliSync(['init', '--name', PREVIEW_PROJECT], dir);
  for (const svc of PREVIEW_SERVICES) {
    cliSync(['add', '-p', PREVIEW_PROJECT, '--service', svc, '--root-directory', `apps/${svc}`], dir);
  }
  gitSync(['init', '-q', '-b', 'main'], dir);
  gitSync(['add', '-A'], dir);
  gitSync(['commit', '-qm', 'three services'], dir);
  const hosts = (envSuffix) => PREVIEW_SERVICES.map((s) => `${s}-${PREVIEW_PROJECT}${envSuffix}.localhost`);
  log('preview: deploying the 3 services to production…');
  const production = await timedPush(dir, PREVIEW_PROJECT, 'main', hosts(''), (b) => versionOf(b) === 'main');
  log(`  production served after ${production.servedS.toFixed(2)} s`);
  gitSync(['checkout', '-q', '-b', 'feature'], dir);
  for (const svc of PREVIEW_SERVICES) fs.writeFileSync(path.join(dir, 'apps', svc, 'VERSION'), 'feature\n');
  gitSync(['commit', '-qam', 'feature'], dir);
  log('preview: pushing a feature branch (creates br-feature with 3 services)…');
  const preview = await timedPush(
    dir,
    PREVIEW_PROJECT,
    'feature',
    hosts('-br-feature'),
    (b) => versionOf(b) === 'feature',
  );
  log(`  all 3 preview URLs served after ${preview.servedS.toFixed(2)} s`);
  rememberPids();
  log('preview: deleting the branch (tears br-feature down)…');
  const t0 = performance.now();
  gitSync(['push', '-q', gitRemote(PREVIEW_PROJECT), ':feature'], dir);
  const teardownS = (performance.now() - t0) / 1000;
  log(`  torn down after ${teardownS.toFixed(2)} s`);
  return { production, preview, teardownS };
}

// ---------------------------------------------------------------- 3: edge throughput

async function deployHello() {
  const dir = path.join(state.tmp, 'apps', HELLO);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'Procfile'), 'web: node server.js\n');
  fs.writeFileSync(
    path.join(dir, 'server.js'),
    [
      "const http = require('node:http');",
      'const server = http.createServer((req, res) => {',
      "  if (req.url === '/cached') res.setHeader('cache-control', 'public, max-age=3600');",
      "  res.writeHead(200, { 'content-type': 'text/plain' });",
      "  res.end('hello world\\n');",
      '});',
      'server.keepAliveTimeout = 65000;',
      'server.listen(Number(process.env.PORT || 3000));',
      "process.on('SIGTERM', () => server.close(() => process.exit(0)));",
      '',
    ].join('\n'),
  );
  log('deploying the hello app for the throughput runs…');
  await timedUntilServed(['up', dir, '-p', PROJECT, '-s', HELLO], dir, hostFor(HELLO), (b) =>
    b.startsWith('hello world'),
  );
  await settled(HELLO);
  const status = await api(`/v1/projects/${PROJECT}/environments/production/status`);
  const svc = status.services.find((s) => s.name === HELLO);
  if (!svc?.deploymentId) throw new Error(`status has no deployment for ${HELLO}: ${JSON.stringify(status)}`);
  const detail = await api(`/v1/deployments/${svc.deploymentId}`);
  const port = detail.replicas?.[0]?.port;
  if (!port)
    throw new Error(`deployment ${svc.deploymentId} has no replica port: ${JSON.stringify(detail.replicas)}`);
  return { deploymentId: svc.deploymentId, port, pid: detail.replicas[0].pid };
}

/**
 * The same load through the daemon's edge (HAProxy when installed) while `berth up` ships a new version of
 * the hello app: the new replica starts, passes its health check, routing swaps, the old one drains. Every
 * request must succeed.
 */
async function benchDeployUnderLoad(run, host) {
  const dir = path.join(state.tmp, 'apps', HELLO);
  const file = path.join(dir, 'server.js');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace("'hello world\\n'", "'hello world v2\\n'"));
  log(
    `deploy under load: ${LOAD.seconds} s through the daemon's ${state.edgeKind} edge while \`berth up\` ships v2…`,
  );
  const load = run(`http://127.0.0.1:${state.httpPort}/`, host);
  // Let the load reach full speed first, then deploy in the middle of it.
  await sleep(Math.min(2000, (LOAD.seconds * 1000) / 4));
  const deploy = await timedUntilServed(['up', dir, '-p', PROJECT, '-s', HELLO], dir, host, (b) =>
    b.startsWith('hello world v2'),
  );
  await settled(HELLO);
  const settledAtS = (performance.now() - deploy.t0) / 1000;
  const r = await load;
  if (settledAtS > LOAD.seconds)
    log(`  the old replica retired after the load ended (${settledAtS.toFixed(1)} s)`);
  return {
    edge: state.edgeKind,
    requests: r.requests,
    rps: r.rps,
    non2xx: r.non2xx,
    errors: r.errors,
    servedS: deploy.servedS,
    settledS: round(settledAtS, 2),
  };
}

function haveWrk() {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    // wrk --version exits 1 after printing its banner; ENOENT means it is missing.
    return err.code !== 'ENOENT';
  }
}

const UNIT_MS = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
function wrkLatencyMs(text) {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text);
  return m ? Number(m[1]) * UNIT_MS[m[2]] : null;
}

/** cpus: a taskset CPU list to run wrk on (the one-core variant), else anywhere. */
async function wrkRun(url, host, seconds = LOAD.seconds, cpus = null) {
  const args = [`-t${LOAD.threads}`, `-c${LOAD.connections}`, `-d${seconds}s`, '--latency'];
  if (host) args.push('-H', `Host: ${host}`);
  const out =
    cpus === null
      ? await run(['wrk', ...args, url])
      : await run(['taskset', '-c', cpus, 'wrk', ...args, url]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p99 = wrkLatencyMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const p50 = wrkLatencyMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  if (!Number.isFinite(rps)) throw new Error(`could not parse wrk output:\n${out}`);
  return { rps, p50Ms: p50, p99Ms: p99, requests, non2xx, errors, raw: out };
}

async function autocannonRun(url, host, seconds = LOAD.seconds) {
  const bin = path.join(ROOT, 'node_modules', 'autocannon', 'autocannon.js');
  const args = [bin, '-c', String(LOAD.connections), '-d', String(seconds), '-j'];
  if (host) args.push('-H', `host=${host}`);
  const out = await run([process.execPath, ...args, url]);
  const j = JSON.parse(out);
  return {
    rps: j.requests.average,
    p50Ms: j.latency.p50,
    p99Ms: j.latency.p99,
    requests: j.requests.total,
    non2xx: j.non2xx,
    errors: j.errors + j.timeouts,
  };
}

function haveBinary(name) {
  for (const dir of [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin']) {
    try {
      fs.accessSync(path.join(dir, name), fs.constants.X_OK);
      return path.join(dir, name);
    } catch {
      /* not here */
    }
  }
  return null;
}

/** (c): a built-in edge process (the same code `--edge builtin` runs) serving the hello replica on its own port. */
async function startBuiltinEdge(hello) {
  const { EdgeProcess } = await import(path.join(ROOT, 'dist', 'edge', 'edge-client.js'));
  const port = await freePort();
  const edge = new EdgeProcess({ stateDir: path.join(state.tmp, 'builtin-edge'), port, host: '127.0.0.1' });
  const pid = await edge.ensureRunning();
  state.knownPids.add(pid);
  state.builtinEdgePid = pid;
  await edge.apply({
    version: 1,
    routes: [
      {
        hostnames: [hostFor(HELLO)],
        project: PROJECT,
        environment: 'production',
        service: HELLO,
        deploymentId: hello.deploymentId,
        kind: 'proxy',
        targets: [{ id: 'bench', host: '127.0.0.1', port: hello.port }],
        staticRoot: null,
      },
    ],
  });
  return { url: `http://127.0.0.1:${port}/`, pid };
}

/**
 * (c0): the floor of a proxy written in Node on this machine, `bench/node-relay.mjs` (a 1:1 TCP relay, no HTTP
 * work at all), in front of the same replica. Pinned like (c1), so the two read side by side.
 */
async function startNodeRelay(hello) {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'bench', 'node-relay.mjs'), String(port), String(hello.port)],
    {
      stdio: 'ignore',
      detached: true,
    },
  );
  state.knownPids.add(child.pid);
  await waitUntil('the Node relay to answer', async () => {
    if (child.exitCode !== null) throw new Error(`bench/node-relay.mjs exited with ${child.exitCode}`);
    const res = await request(`http://127.0.0.1:${port}/`, { headers: { host: hostFor(HELLO) } });
    return (await res.body.text()).startsWith('hello world');
  });
  return { url: `http://127.0.0.1:${port}/`, pid: child.pid };
}

/**
 * (d): nginx as an operator would hand-write it for this app: keep-alive upstream pool, HTTP/1.1 upstream,
 * X-Forwarded-*, no access log, a worker per core. Its own prefix and config in the temp dir, not the system
 * service; `daemon off` so the pid we spawn is the master (its workers share its process group).
 */
async function startNginx(hello, { accessLog = false } = {}) {
  const bin = haveBinary('nginx');
  if (!bin) return null;
  const dir = path.join(state.tmp, accessLog ? 'nginx-logged' : 'nginx');
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(
    conf,
    `worker_processes auto;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 4096; }
http {
${
  accessLog
    ? `  log_format berth escape=json '{"time":"$time_iso8601","method":"$request_method","host":"$host","path":"$request_uri","status":$status,"durationMs":$request_time,"bytesIn":$request_length,"bytesOut":$body_bytes_sent,"requestId":"$request_id","ip":"$remote_addr"}';
  access_log ${dir}/logs/access.log berth buffer=64k flush=1s;`
    : '  access_log off;'
}
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream hello { server 127.0.0.1:${hello.port}; keepalive 64; }
  server {
    listen 127.0.0.1:${port} reuseport;
    server_name ${hostFor(HELLO)};
    location / {
      proxy_pass http://hello;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;${accessLog ? '\n      proxy_set_header X-Request-Id $request_id;' : ''}
    }
  }
}
`,
  );
  const out = fs.openSync(path.join(dir, 'logs', 'stderr.log'), 'a');
  const child = spawn(bin, ['-p', dir, '-c', conf, '-e', path.join(dir, 'logs', 'error.log')], {
    stdio: ['ignore', out, out],
    detached: true,
  });
  fs.closeSync(out);
  state.knownPids.add(child.pid);
  await waitUntil('nginx to answer', async () => {
    if (child.exitCode !== null) {
      throw new Error(`nginx exited: ${fs.readFileSync(path.join(dir, 'logs', 'stderr.log'), 'utf8')}`);
    }
    const res = await request(`http://127.0.0.1:${port}/`, { headers: { host: hostFor(HELLO) } });
    return (await res.body.text()).startsWith('hello world');
  });
  return { url: `http://127.0.0.1:${port}/`, pid: child.pid };
}

/** The row issue 2's edge target applies to: the one-core run when the box could pin it, else (c). */
function edgeTargetKey(throughput) {
  return throughput.best.builtinOneCore ? 'builtinOneCore' : 'builtin';
}

/**
 * The figure issue 2's target is checked against. Pinned (c1): req/s per edge core, the edge's own capacity —
 * (c1)'s req/s also stops where the app and wrk saturate their core ((a1)), which on a 2-core box is about the
 * target itself, so even a proxy that cost nothing could miss it there. Unpinned (c): its req/s.
 */
function edgeTargetRps(throughput) {
  const key = edgeTargetKey(throughput);
  const b = throughput.best[key];
  return key === 'builtinOneCore' ? (b.rpsPerProxyCore ?? b.rps) : b.rps;
}

async function benchThroughput(tool) {
  const hello = await deployHello();
  const run = tool === 'wrk' ? wrkRun : autocannonRun;
  const host = hostFor(HELLO);
  const canPin = tool === 'wrk' && os.cpus().length >= 2 && haveBinary('taskset') !== null;
  const ONE_CORE = { edge: '0', rest: `1-${os.cpus().length - 1}` };
  if (!canPin) log('(c1) needs wrk, taskset and 2 CPUs: skipped');
  const builtin = await startBuiltinEdge(hello);
  const relay = canPin ? await startNodeRelay(hello) : null;
  const nginx = await startNginx(hello);
  const nginxLogged = nginx ? await startNginx(hello, { accessLog: true }) : null;
  if (!nginx) log('nginx is not installed (apt-get install nginx): (d) is skipped');
  // (a)..(d), all against the same replica. The daemon's own edge is (b) when it runs HAProxy.
  const variants = [
    { key: 'direct', label: '(a) app direct', url: `http://127.0.0.1:${hello.port}/`, host: null, pids: [] },
    // HAProxy's CPU includes its helper edge: it parses HAProxy's request log lines.
    ...(state.edgeKind === 'haproxy'
      ? [
          {
            key: 'haproxy',
            label: '(b) Berth on HAProxy',
            url: `http://127.0.0.1:${state.httpPort}/`,
            host,
            pids: [edgePid(), helperPid()],
          },
          {
            key: 'haproxyCache',
            label: '(e) Berth on HAProxy, cache hits',
            url: `http://127.0.0.1:${state.httpPort}/cached`,
            host,
            pids: [edgePid(), helperPid()],
          },
        ]
      : []),
    { key: 'builtin', label: '(c) Berth built-in edge', url: builtin.url, host, pids: [builtin.pid] },
    // Issue 2's "≥ 25k req/s on one core": the edge alone on CPU 0, the app and wrk on the others; beside it the
    // same pinning for Node's floor (c0) and for nginx (d1), so the machine's own ceiling reads next to it.
    ...(canPin
      ? [
          // No proxy, the app and wrk on their core as in (c1): the most (c1) can reach on this box.
          {
            key: 'directOneCore',
            label: '(a1) app direct, app + wrk on one core',
            url: `http://127.0.0.1:${hello.port}/`,
            host: null,
            pids: [],
            pin: ONE_CORE,
          },
          {
            key: 'builtinOneCore',
            label: '(c1) built-in edge on one core',
            url: builtin.url,
            host,
            pids: [builtin.pid],
            pin: ONE_CORE,
          },
          {
            key: 'nodeFloorOneCore',
            label: "(c0) Node's floor on one core: a bare TCP relay",
            url: relay.url,
            host,
            pids: [relay.pid],
            pin: ONE_CORE,
          },
          ...(nginx
            ? [
                {
                  key: 'nginxOneCore',
                  label: '(d1) nginx on one core',
                  url: nginx.url,
                  host,
                  pids: [nginx.pid],
                  pin: ONE_CORE,
                },
              ]
            : []),
        ]
      : []),
    {
      key: 'cache',
      label: "(e') built-in edge, cache hits",
      url: new URL('/cached', builtin.url).href,
      host,
      pids: [builtin.pid],
    },
    ...(nginx
      ? [{ key: 'nginx', label: '(d) nginx, hand-written', url: nginx.url, host, pids: [nginx.pid] }]
      : []),
    ...(nginxLogged
      ? [
          {
            key: 'nginxLogged',
            label: "(d') nginx + access log and request ids",
            url: nginxLogged.url,
            host,
            pids: [nginxLogged.pid],
          },
        ]
      : []),
  ];
  log(`warming up (2 s each): ${variants.map((v) => `${v.key} ${v.url}`).join(', ')} (Host: ${host})`);
  for (const v of variants) await run(v.url, v.host, 2);
  // CPU used by the proxy and the app replica during each run (cores = CPU seconds / wall seconds), so a
  // proxy's cost per request can be read apart from the load generator sharing the box.
  const measured = async (v) => {
    const pids = { proxy: v.pids.filter(Boolean), app: [hello.pid], daemon: [state.daemon.pid] };
    const cpu = (ps) =>
      ps.map(groupCpu).reduce((a, b) => ({ user: a.user + b.user, sys: a.sys + b.sys }), { user: 0, sys: 0 });
    const all = `0-${os.cpus().length - 1}`;
    if (v.pin) {
      for (const p of v.pids) pinGroup(p, v.pin.edge);
      pinGroup(hello.pid, v.pin.rest);
    }
    const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpu(p)]));
    const t0 = performance.now();
    let r;
    try {
      r = v.pin ? await run(v.url, v.host, LOAD.seconds, v.pin.rest) : await run(v.url, v.host);
    } finally {
      if (v.pin) {
        for (const p of v.pids) pinGroup(p, all);
        pinGroup(hello.pid, all);
      }
    }
    const wall = (performance.now() - t0) / 1000;
    const cores = {};
    for (const [k, p] of Object.entries(pids)) {
      const now = cpu(p);
      cores[k] = {
        user: round((now.user - before[k].user) / wall, 2),
        sys: round((now.sys - before[k].sys) / wall, 2),
      };
    }
    const proxyCores = cores.proxy.user + cores.proxy.sys;
    return {
      ...r,
      proxyCores: round(proxyCores, 2),
      appCores: round(cores.app.user + cores.app.sys, 2),
      cpuCores: cores,
      rpsPerProxyCore: v.pids.length > 0 && proxyCores > 0 ? Math.round(r.rps / proxyCores) : null,
    };
  };
  const runs = Object.fromEntries(variants.map((v) => [v.key, []]));
  for (let i = 0; i < LOAD_ROUNDS; i++) {
    for (const v of variants) {
      log(`load ${i + 1}/${LOAD_ROUNDS}: ${v.label} (${LOAD.seconds} s)…`);
      const r = await measured(v);
      runs[v.key].push(r);
      log(
        `  ${Math.round(r.rps)} req/s, p99 ${r.p99Ms} ms (proxy ${r.proxyCores} cores, app ${r.appCores} cores)`,
      );
    }
  }
  const underDeploy = await benchDeployUnderLoad(run, host);
  log(
    `  ${underDeploy.requests} requests, ${underDeploy.non2xx} non-2xx, ${underDeploy.errors} socket errors (v2 served after ${underDeploy.servedS.toFixed(2)} s)`,
  );
  const best = (xs) => xs.reduce((a, b) => (b.rps > a.rps ? b : a));
  const strip = ({ raw, ...r }) => r;
  const bests = Object.fromEntries(variants.map((v) => [v.key, strip(best(runs[v.key]))]));
  const ratio = (a, b) => (bests[a] && bests[b] ? round(bests[a].rps / bests[b].rps, 3) : null);
  return {
    tool,
    settings:
      tool === 'wrk'
        ? `wrk -t${LOAD.threads} -c${LOAD.connections} -d${LOAD.seconds}s --latency`
        : `autocannon -c ${LOAD.connections} -d ${LOAD.seconds}`,
    appPort: hello.port,
    labels: Object.fromEntries(variants.map((v) => [v.key, v.label])),
    runs: Object.fromEntries(Object.entries(runs).map(([k, xs]) => [k, xs.map(strip)])),
    underDeploy,
    best: bests,
    ratios: {
      haproxyVsNginx: ratio('haproxy', 'nginx'),
      haproxyVsDirect: ratio('haproxy', 'direct'),
      builtinVsDirect: ratio('builtin', 'direct'),
      nginxVsDirect: ratio('nginx', 'direct'),
      haproxyVsNginxLogged: ratio('haproxy', 'nginxLogged'),
      builtinVsNodeFloorOneCore: ratio('builtinOneCore', 'nodeFloorOneCore'),
      builtinVsNginxOneCore: ratio('builtinOneCore', 'nginxOneCore'),
    },
  };
}

// ---------------------------------------------------------------- 4: idle RSS

/**
 * The edge's memory: its process group, plus, with HAProxy, the helper built-in edge that always runs next to
 * it (static sites, ACME challenges, private endpoints, request logs) in a process group of its own.
 */
function edgeKB(field) {
  const main = groupKB(edgePid(), field);
  const helper = helperPid();
  return main == null || helper === null ? main : main + (groupKB(helper, field) ?? 0);
}

function rssSnapshot() {
  const d = rssKB(state.daemon.pid);
  const e = edgeKB('VmRSS');
  return { daemonMB: round((d ?? 0) / 1024, 1), edgeMB: round((e ?? 0) / 1024, 1) };
}

async function idleRss() {
  const daemonPid = state.daemon.pid;
  const ePid = edgePid();
  if (!ePid) throw new Error('no edge pid file');
  log('waiting for the daemon and edge to go idle (RSS stable over 3 s)…');
  await sleep(3000);
  const samples = [];
  const deadline = Date.now() + 30_000;
  for (;;) {
    const d = rssKB(daemonPid);
    const e = edgeKB('VmRSS');
    if (d == null || e == null) throw new Error(`daemon (${daemonPid}) or edge (${ePid}) is gone`);
    const b = state.builtinEdgePid && state.edgeKind === 'haproxy' ? (rssKB(state.builtinEdgePid) ?? 0) : 0;
    samples.push({ daemonKB: d, edgeKB: e, builtinKB: b });
    const last = samples.slice(-7); // 7 samples × 500 ms = 3 s window
    const totals = last.map((s) => s.daemonKB + s.edgeKB + s.builtinKB);
    if (last.length === 7 && Math.max(...totals) - Math.min(...totals) < 1024) break;
    if (Date.now() > deadline) break;
    await sleep(500);
  }
  const final = samples.at(-1);
  return {
    daemonPid,
    edgePid: ePid,
    daemonMB: final.daemonKB / 1024,
    edgeMB: final.edgeKB / 1024,
    totalMB: (final.daemonKB + final.edgeKB) / 1024,
    // With HAProxy as the daemon's edge, the built-in edge figure is the standalone one of (c): the same code
    // `--edge builtin` runs, after the same load.
    builtinEdgeMB: state.edgeKind === 'haproxy' ? final.builtinKB / 1024 : null,
    daemonPeakMB: (hwmKB(daemonPid) ?? 0) / 1024,
    edgePeakMB: (edgeKB('VmHWM') ?? 0) / 1024,
    stable: samples.length >= 7,
    samples: samples.length,
  };
}

// ---------------------------------------------------------------- report

function pad(s, n) {
  s = String(s);
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function printTable(r, info) {
  const rows = [];
  const verdict = (ok) => (ok ? 'PASS' : 'MISS');
  rows.push([
    'cold deploy (first up, npm ci, empty cache)',
    `${r.redeploy.coldS.toFixed(2)} s`,
    '—',
    'info',
    '',
  ]);
  rows.push([
    `warm redeploy (median of ${WARM_RUNS}, cache hit)`,
    `${r.redeploy.warmMedianS.toFixed(2)} s`,
    `≤ ${TARGETS.warmRedeployS} s`,
    verdict(r.redeploy.pass),
    'Railway ~3 min',
  ]);
  for (const row of buildRows(
    Object.fromEntries(Object.entries(r.builds).filter(([, b]) => typeof b === 'object')),
  ))
    rows.push(row);
  rows.push([
    `rollback (median of ${ROLLBACK_RUNS})`,
    `${r.rollback.medianS.toFixed(2)} s`,
    `≤ ${TARGETS.rollbackS} s`,
    verdict(r.rollback.pass),
    'Railway ~30 s',
  ]);
  rows.push([
    `git push → serving (median of ${GIT_RUNS}, warm)`,
    `${r.gitPush.warmMedianS.toFixed(2)} s`,
    `≤ ${TARGETS.gitPushS} s`,
    verdict(r.gitPush.pass),
    'Railway ~3 min',
  ]);
  if (r.postgres) {
    rows.push([
      `provision PostgreSQL (add --database, median of ${PG_RUNS})`,
      `${r.postgres.medianS.toFixed(2)} s`,
      `≤ ${TARGETS.provisionS} s`,
      verdict(r.postgres.pass),
      'Neon/Railway: seconds',
    ]);
    const b = r.postgres.pgbench;
    if (b) {
      rows.push([
        `pgbench -S: Berth's PostgreSQL vs hand-started (best of ${PGBENCH.rounds})`,
        `${b.berthTps} vs ${b.handTps} tps (${(b.ratio * 100).toFixed(1)} %)`,
        `≥ ${TARGETS.pgbenchVsHand * 100} %`,
        verdict(b.pass),
        '',
      ]);
    }
  }
  rows.push([
    'preview environment, 3 services (push → all serving)',
    `${r.preview.createS.toFixed(2)} s`,
    `≤ ${TARGETS.previewS} s`,
    verdict(r.preview.pass),
    `teardown ${r.preview.teardownS.toFixed(2)} s`,
  ]);
  const t = r.throughput;
  const pct = (x) => (x == null ? 'n/a' : `${(x * 100).toFixed(0)} %`);
  for (const [key, label] of Object.entries(t.labels)) {
    const b = t.best[key];
    const isCache = key === 'cache' || key === 'haproxyCache';
    const target =
      key === edgeTargetKey(t) ? `≥ ${TARGETS.edgeRps} req/s` : isCache ? `≥ ${TARGETS.cacheRps} req/s` : '—';
    const v = key in t.pass ? verdict(t.pass[key]) : 'info';
    const perCore = key === 'builtinOneCore' ? `; ${Math.round(edgeTargetRps(t))} req/s per edge core` : '';
    rows.push([
      `${label} (best of ${LOAD_ROUNDS})`,
      `${Math.round(b.rps)} req/s`,
      target,
      v,
      `p99 ${b.p99Ms?.toFixed(2)} ms${perCore}`,
    ]);
  }
  rows.push([
    '  HAProxy / nginx',
    pct(t.ratios.haproxyVsNginx),
    `≥ ${TARGETS.haproxyVsNginx * 100} %`,
    t.pass.haproxyVsNginx == null ? 'n/a' : verdict(t.pass.haproxyVsNginx),
    '',
  ]);
  rows.push([
    '  HAProxy / direct',
    pct(t.ratios.haproxyVsDirect),
    `≥ ${TARGETS.haproxyVsDirect * 100} %`,
    t.pass.haproxyVsDirect == null ? 'n/a' : verdict(t.pass.haproxyVsDirect),
    '',
  ]);
  const infoRatios = [
    ['  built-in / direct', t.ratios.builtinVsDirect],
    ['  nginx / direct', t.ratios.nginxVsDirect],
    ["  HAProxy / nginx + access log (d')", t.ratios.haproxyVsNginxLogged],
    ["  built-in / Node's floor, one core (c1)/(c0)", t.ratios.builtinVsNodeFloorOneCore],
    ['  built-in / nginx, one core (c1)/(d1)', t.ratios.builtinVsNginxOneCore],
  ];
  for (const [label, x] of infoRatios) if (x != null) rows.push([label, pct(x), '—', 'info', '']);
  const u = t.underDeploy;
  rows.push([
    `failed requests while a deploy swaps replicas (${u.edge} edge)`,
    `${u.non2xx + u.errors} of ${u.requests}`,
    '0',
    verdict(t.pass.underDeploy),
    `${Math.round(u.rps)} req/s during the deploy`,
  ]);
  rows.push([
    `idle RSS, daemon + edge (${r.edgeKind})`,
    `${r.idleRss.totalMB.toFixed(1)} MB`,
    `≤ ${TARGETS.idleRssMB} MB`,
    verdict(r.idleRss.pass),
    `daemon ${r.idleRss.daemonMB.toFixed(1)} + edge ${r.idleRss.edgeMB.toFixed(1)}`,
  ]);
  if (r.idleRss.builtinTotalMB != null) {
    rows.push([
      'idle RSS, daemon + built-in edge (c)',
      `${r.idleRss.builtinTotalMB.toFixed(1)} MB`,
      `≤ ${TARGETS.idleRssMB} MB`,
      verdict(r.idleRss.builtinPass),
      `daemon ${r.idleRss.daemonMB.toFixed(1)} + edge ${r.idleRss.builtinEdgeMB.toFixed(1)}`,
    ]);
  }
  const widths = [0, 1, 2, 3, 4].map((i) =>
    Math.max(...[['metric', 'result', 'target', '', 'notes'], ...rows].map((row) => String(row[i]).length)),
  );
  const line = (row) =>
    row
      .map((c, i) => pad(c, widths[i]))
      .join('  ')
      .trimEnd();
  const out = [];
  out.push('');
  out.push(`Berth benchmark — ${info}`);
  out.push('');
  out.push(line(['metric', 'result', 'target', '', 'notes']));
  out.push(line(widths.map((w) => '-'.repeat(w))));
  for (const row of rows) out.push(line(row));
  out.push('');
  out.push(
    `warm runs: ${r.redeploy.warm.map((w) => w.servedS.toFixed(2)).join(', ')} s; ` +
      `rollbacks: ${r.rollback.runs.map((w) => w.servedS.toFixed(2)).join(', ')} s; ` +
      Object.entries(t.runs)
        .map(([k, xs]) => `${k} runs: ${xs.map((x) => Math.round(x.rps)).join(', ')} req/s`)
        .join('; '),
  );
  for (const [key, b] of Object.entries(t.best)) {
    if (key === 'direct' || key === 'directOneCore') continue;
    out.push(
      `CPU during the best ${key} run: proxy ${b.proxyCores} cores (user ${b.cpuCores.proxy.user} + sys ${b.cpuCores.proxy.sys}), ` +
        `app ${b.appCores} → ${b.rpsPerProxyCore ?? '?'} req/s per proxy core`,
    );
  }
  const s = r.idleRss.earlierSnapshots;
  out.push(
    `RSS daemon/edge MB: fresh server ${s.freshServer.daemonMB}/${s.freshServer.edgeMB}, ` +
      `after deploys ${s.afterDeploysBeforeLoad.daemonMB}/${s.afterDeploysBeforeLoad.edgeMB}, ` +
      `idle after load ${r.idleRss.daemonMB}/${r.idleRss.edgeMB} (peak ${r.idleRss.daemonPeakMB}/${r.idleRss.edgePeakMB})`,
  );
  const errs = Object.values(t.runs)
    .flat()
    .reduce((a, x) => a + x.non2xx + x.errors, 0);
  if (errs) out.push(`WARNING: ${errs} non-2xx responses / socket errors during the load runs (see JSON)`);
  out.push(
    `note: load generator (${t.settings}), app replica and proxy share ${os.cpus().length} CPU cores, ` +
      'so absolute req/s are pessimistic.',
  );
  out.push(`results: ${path.relative(process.cwd(), RESULTS) || RESULTS}`);
  out.push('');
  process.stdout.write(`${out.join('\n')}\n`);
}

function gitInfo() {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    return { commit, srcDirty: dirty.length > 0 };
  } catch {
    return { commit: null, srcDirty: null };
  }
}

// ---------------------------------------------------------------- main

async function main() {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing; run \`npm run build\` first`);
  const tool = haveWrk() ? 'wrk' : 'autocannon';
  const cpu = os.cpus();
  const info = `${cpu.length} × ${cpu[0]?.model?.trim() ?? 'cpu'}, node ${process.version}, load tool ${tool}`;
  log(info);
  const started = new Date();

  state.edgeKind = haveBinary('haproxy') ? 'haproxy' : 'builtin';
  await startServer();
  log(`server up: api :${state.apiPort}, ${state.edgeKind} edge :${state.httpPort}, data ${state.dataDir}`);
  if (process.argv.includes('--pg-only')) {
    const pg = await benchPostgres();
    if (pg) {
      process.stdout.write(
        `provision PostgreSQL (median of ${PG_RUNS}): ${pg.medianS.toFixed(2)} s (target ≤ ${TARGETS.provisionS} s; runs ${pg.runs.map((x) => x.toFixed(2)).join(', ')})\n`,
      );
      const b = await benchPgbench('Pg1');
      if (b) {
        process.stdout.write(
          `pgbench -S, ${PGBENCH.clients} clients (best of ${PGBENCH.rounds}): Berth ${Math.round(b.berth)} tps, hand-started ${Math.round(b.hand)} tps = ${(b.ratio * 100).toFixed(1)} % (target ≥ ${TARGETS.pgbenchVsHand * 100} %)\n`,
        );
      }
    }
    return;
  }
  if (process.argv.includes('--git-only')) {
    // Just the git figures (about 30 s, no load test): for working on the git path.
    const g = await benchGitPush();
    const p = await benchPreview();
    const warmS = median(g.warm.map((w) => w.servedS));
    process.stdout.write(
      `git push → serving (warm median): ${warmS.toFixed(2)} s (target ≤ ${TARGETS.gitPushS} s, first push ${g.first.servedS.toFixed(2)} s)\n` +
        `preview environment, 3 services: ${p.preview.servedS.toFixed(2)} s (target ≤ ${TARGETS.previewS} s, teardown ${p.teardownS.toFixed(2)} s)\n`,
    );
    return;
  }
  if (process.argv.includes('--builds-only')) {
    // Just the build figures (about 2 min, no load test): for working on the builders.
    const deploys = await benchDeploys();
    const builds = await benchFixtureBuilds(deploys);
    for (const row of buildRows(builds)) process.stdout.write(`${row.filter(Boolean).join('  ')}\n`);
    return;
  }
  await sleep(1000);
  const rssFresh = rssSnapshot();

  const deploys = await benchDeploys();
  const builds = await benchFixtureBuilds(deploys);
  const gitPush = await benchGitPush();
  const previews = await benchPreview();
  const postgres = await benchPostgres();
  const pgbench = postgres ? await benchPgbench('Pg1') : null;
  const rssAfterDeploys = rssSnapshot();
  const throughput = await benchThroughput(tool);
  const rss = await idleRss();

  const warmMedianS = median(deploys.warm.map((w) => w.servedS));
  const rollbackMedianS = median(deploys.rollbacks.map((w) => w.servedS));
  const results = {
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: {
      cpus: cpu.length,
      cpuModel: cpu[0]?.model?.trim() ?? null,
      memMB: Math.round(os.totalmem() / 2 ** 20),
    },
    node: process.version,
    git: gitInfo(),
    edgeKind: state.edgeKind,
    targets: TARGETS,
    redeploy: {
      what: 'seconds from `berth up` start to the edge serving the new version (node-deps fixture, 1 npm dependency)',
      coldS: round(deploys.cold.servedS, 3),
      warmMedianS: round(warmMedianS, 3),
      pass: warmMedianS <= TARGETS.warmRedeployS,
      cold: { ...deploys.cold, events: undefined, timeline: timeline(deploys.cold) },
      warm: deploys.warm.map((w) => ({ ...w, events: undefined, timeline: timeline(w) })),
    },
    builds: {
      what: 'cold (first up of the fixture on this server, empty caches) and warm (changed source, same lockfile) builds: seconds from `berth up` start to the edge serving the new version, and the builder’s own "build finished in" seconds',
      ...builds,
    },
    gitPush: {
      what: 'seconds from spawning `git push berth main` to the edge serving the new version (node-deps fixture, warm dependency cache)',
      firstS: round(gitPush.first.servedS, 3),
      warmMedianS: round(median(gitPush.warm.map((w) => w.servedS)), 3),
      pass: median(gitPush.warm.map((w) => w.servedS)) <= TARGETS.gitPushS,
      warm: gitPush.warm,
    },
    preview: {
      what: 'seconds from spawning `git push berth feature` (3-service monorepo) until all three br-feature preview URLs serve the branch',
      createS: round(previews.preview.servedS, 3),
      pass: previews.preview.servedS <= TARGETS.previewS,
      productionFirstDeployS: round(previews.production.servedS, 3),
      teardownS: round(previews.teardownS, 3),
      runs: previews,
    },
    postgres: postgres && {
      what: 'seconds from spawning `berth add --database postgres` until it exits (the new cluster accepts connections)',
      medianS: round(postgres.medianS, 3),
      runs: postgres.runs.map((x) => round(x, 3)),
      pass: postgres.medianS <= TARGETS.provisionS,
      pgbench: pgbench && {
        what: `pgbench -S -c ${PGBENCH.clients} -j ${PGBENCH.threads} -T ${PGBENCH.seconds} (scale ${PGBENCH.scale}), best of ${PGBENCH.rounds}: Berth's database at its private address vs the same PostgreSQL started by hand with the same settings`,
        berthTps: round(pgbench.berth, 0),
        handTps: round(pgbench.hand, 0),
        ratio: pgbench.ratio == null ? null : round(pgbench.ratio, 3),
        pass: pgbench.ratio != null && pgbench.ratio >= TARGETS.pgbenchVsHand,
      },
    },
    rollback: {
      what: 'seconds from `berth rollback` start to the edge serving the previous version',
      medianS: round(rollbackMedianS, 3),
      pass: rollbackMedianS <= TARGETS.rollbackS,
      runs: deploys.rollbacks.map((w) => ({ ...w, events: undefined, timeline: timeline(w) })),
    },
    throughput: {
      ...throughput,
      pass: {
        [edgeTargetKey(throughput)]: edgeTargetRps(throughput) >= TARGETS.edgeRps,
        cache: throughput.best.cache.rps >= TARGETS.cacheRps,
        haproxyCache: throughput.best.haproxyCache
          ? throughput.best.haproxyCache.rps >= TARGETS.cacheRps
          : null,
        underDeploy: throughput.underDeploy.non2xx + throughput.underDeploy.errors === 0,
        haproxyVsNginx:
          throughput.ratios.haproxyVsNginx == null
            ? null
            : throughput.ratios.haproxyVsNginx >= TARGETS.haproxyVsNginx,
        haproxyVsDirect:
          throughput.ratios.haproxyVsDirect == null
            ? null
            : throughput.ratios.haproxyVsDirect >= TARGETS.haproxyVsDirect,
      },
      note: `load generator, app replica and edge share ${cpu.length} CPU cores; absolute numbers are pessimistic`,
    },
    idleRss: {
      ...rss,
      daemonMB: round(rss.daemonMB, 1),
      edgeMB: round(rss.edgeMB, 1),
      totalMB: round(rss.totalMB, 1),
      daemonPeakMB: round(rss.daemonPeakMB, 1),
      edgePeakMB: round(rss.edgePeakMB, 1),
      builtinEdgeMB: round(rss.builtinEdgeMB, 1),
      builtinTotalMB: rss.builtinEdgeMB == null ? null : round(rss.daemonMB + rss.builtinEdgeMB, 1),
      pass: rss.totalMB <= TARGETS.idleRssMB,
      builtinPass: rss.builtinEdgeMB == null ? null : rss.daemonMB + rss.builtinEdgeMB <= TARGETS.idleRssMB,
      earlierSnapshots: { freshServer: rssFresh, afterDeploysBeforeLoad: rssAfterDeploys },
    },
  };
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  printTable(results, info);
}

let failed = false;
try {
  await main();
} catch (err) {
  failed = true;
  if (aborting) await new Promise(() => {}); // the signal handler cleans up and exits
  log(`FAILED: ${err?.stack ?? err}`);
  const tail = state.tmp ? serverLog() : '';
  if (tail) log(`server log (tail):\n${tail}`);
} finally {
  await cleanup();
}
process.exit(failed ? 1 : 0);
