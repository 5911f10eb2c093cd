/**
 * Request metrics and access logs of the built-in edge: a known request mix through the real edge process
 * (spawned by EdgeProcess) to a real upstream, then exact counts, classes and bytes, percentiles in the
 * right bucket, and access log lines found by status/path/method carrying the request id the app saw.
 *
 * Needs dist/edge/main.js (`npm test` builds first; with vitest directly run `npx tsc -p .` before).
 */

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchAccessLog } from '../../src/edge/access-log-search.js';
import { EdgeProcess } from '../../src/edge/edge-client.js';
import { parseHaproxyLine } from '../../src/edge/haproxy/log-ingest.js';
import { bucketOf, bucketUpperMs, type ServiceNames } from '../../src/edge/metrics.js';
import type { Route, RoutingTable } from '../../src/edge/routing-table.js';
import { freePort } from '../../src/lib/net.js';
import { processAlive } from '../../src/lib/pid-file.js';
import { waitFor } from '../../src/lib/wait.js';
import { request } from '../helpers/client.js';
import { killGroup, makeTmpDir } from '../helpers/tmp.js';

const OK_BODY = 'a'.repeat(100);
const MISSING_BODY = 'b'.repeat(20);
const BOOM_BODY = 'boom!!!';
const SLOW_MS = 200;

interface Seen {
  method: string;
  url: string;
  requestId: string;
}

function startApp(seen: Seen[]): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        requestId: String(req.headers['x-request-id']),
      });
      const url = req.url ?? '/';
      if (url === '/shared') {
        res.writeHead(200, {
          'content-type': 'text/plain',
          'cache-control': 'public, max-age=60',
          etag: '"v1"',
        });
        res.end(OK_BODY);
      } else if (url.startsWith('/ok')) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(OK_BODY);
      } else if (url.startsWith('/missing')) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end(MISSING_BODY);
      } else {
        // chunked, after a delay: bytes are counted as they stream, latency lands in a slow bucket
        setTimeout(() => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.write(BOOM_BODY.slice(0, 3));
          res.end(BOOM_BODY.slice(3));
        }, SLOW_MS);
      }
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve({ server, port: typeof a === 'object' && a ? a.port : 0 });
    }),
  );
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

function send(
  port: number,
  host: string,
  urlPath: string,
  opts: { method?: string; body?: Buffer; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string }> {
  return request(port, host, urlPath, { ...opts, agent }).then(({ status, body }) => ({ status, body }));
}

const names: ServiceNames = {
  project: 'shop',
  environment: 'production',
  service: 'api',
  serviceId: 'svc-1',
  environmentId: 'env-1',
};

function route(deploymentId: string, port: number): Route {
  return {
    ...names,
    hostnames: ['api.test'],
    deploymentId,
    kind: 'proxy',
    targets: [{ id: `${deploymentId}-r1`, host: '127.0.0.1', port }],
    staticRoot: null,
  };
}

describe('edge request metrics and access log', () => {
  const tmp = makeTmpDir('berth-metrics-');
  const seen: Seen[] = [];
  const pids = new Set<number>();
  const siteDir = path.join(tmp.dir, 'site');
  let app: { server: http.Server; port: number };
  let edge: EdgeProcess;
  let port = 0;
  let version = 0;

  function table(...routes: Route[]): RoutingTable {
    return { version: ++version, routes };
  }

  function extraRoutes(): Route[] {
    return [
      {
        project: 'shop',
        environment: 'production',
        service: 'down',
        serviceId: 'svc-2',
        environmentId: 'env-1',
        hostnames: ['down.test'],
        deploymentId: 'dep-down',
        kind: 'proxy',
        targets: [],
        staticRoot: null,
      },
      {
        project: 'shop',
        environment: 'production',
        service: 'site',
        serviceId: 'svc-3',
        environmentId: 'env-1',
        hostnames: ['site.test'],
        deploymentId: 'dep-site',
        kind: 'static',
        targets: [],
        staticRoot: siteDir,
      },
    ];
  }

  beforeAll(async () => {
    fs.mkdirSync(siteDir, { recursive: true });
    fs.writeFileSync(path.join(siteDir, 'index.html'), '<h1>twelve</h1>');
    app = await startApp(seen);
    port = await freePort();
    edge = new EdgeProcess({ stateDir: path.join(tmp.dir, 'edge'), port, host: '127.0.0.1' });
    pids.add(await edge.ensureRunning());
    await edge.apply(table(route('dep-1', app.port), ...extraRoutes()));
  });

  afterAll(async () => {
    agent.destroy();
    // Through the driver: its supervisor would restart an edge killed behind its back.
    await edge?.stop(5000);
    for (const pid of pids) {
      if (!processAlive(pid)) continue;
      process.kill(pid, 'SIGTERM');
      await waitFor(`edge ${pid} to exit`, () => !processAlive(pid), { timeoutMs: 5000 }).catch(() =>
        killGroup(pid),
      );
    }
    await new Promise((r) => app.server.close(r));
    tmp.cleanup();
  });

  it('counts a known request mix exactly, with percentiles in the right bucket', async () => {
    // 30 × 200 (one a POST with a 1000-byte body), 10 × 404, 5 × 500 (slow), one in three with the client's own id
    for (let i = 0; i < 29; i++) {
      const headers: Record<string, string> = i % 3 === 0 ? { 'x-request-id': `client-${i}` } : {};
      expect((await send(port, 'api.test', `/ok/${i}`, { headers })).status).toBe(200);
    }
    const upload = await send(port, 'api.test', '/ok/upload', {
      method: 'POST',
      body: Buffer.alloc(1000, 1),
    });
    expect(upload.status).toBe(200);
    for (let i = 0; i < 10; i++) expect((await send(port, 'api.test', `/missing/${i}`)).status).toBe(404);
    for (let i = 0; i < 5; i++) {
      const r = await send(port, 'API.test:80', '/boom');
      expect(r).toEqual({ status: 500, body: BOOM_BODY });
    }

    const m = (await edge.metrics()).services['env-1_svc-1'];
    expect(m).toMatchObject({ project: 'shop', environment: 'production', service: 'api' });
    const d = m.deployments['dep-1'];
    expect(d).toMatchObject({
      requests: 45,
      status: { '1xx': 0, '2xx': 30, '3xx': 0, '4xx': 10, '5xx': 5 },
      bytesIn: 1000,
      bytesOut: 30 * OK_BODY.length + 10 * MISSING_BODY.length + 5 * BOOM_BODY.length,
      active: 0,
      tunnels: 0,
    });
    expect(m.totals).toEqual(d);

    // Percentiles from buckets: the bucket's upper bound, ≥ the true value and < 2^(1/4) times it.
    const entries = await edge.httpLogs(names, { limit: 1000 });
    expect(entries).toHaveLength(45);
    const sorted = entries.map((e) => e.durationMs).sort((a, b) => a - b);
    const inBucket = (reported: number, truth: number) => {
      expect(reported).toBeGreaterThanOrEqual(truth - 0.01);
      expect(reported).toBeLessThanOrEqual(truth * 2 ** 0.25 + 0.01);
    };
    inBucket(d.latencyMs.p50, sorted[22]); // rank ceil(0.50 × 45) = 23
    inBucket(d.latencyMs.p95, sorted[42]); // rank 43: one of the slow 500s
    inBucket(d.latencyMs.p99, sorted[44]);
    expect(d.latencyMs.p50).toBeLessThan(SLOW_MS);
    expect(d.latencyMs.p95).toBeGreaterThanOrEqual(SLOW_MS);
    expect(d.latencyMs.max).toBeCloseTo(sorted[44], 1);
  });

  it('finds access log lines by status, path and method, newest first, with the id the app saw', async () => {
    const boom = await edge.httpLogs(names, { limit: 100, status: '5xx' });
    expect(boom).toHaveLength(5);
    const appBoomIds = seen.filter((s) => s.url === '/boom').map((s) => s.requestId);
    expect(boom.map((e) => e.requestId)).toEqual([...appBoomIds].reverse());
    expect(boom[0]).toMatchObject({
      service: 'api',
      deploymentId: 'dep-1',
      method: 'GET',
      host: 'api.test',
      path: '/boom',
      status: 500,
      bytesIn: 0,
      bytesOut: BOOM_BODY.length,
      ip: '127.0.0.1',
    });
    expect(boom.every((e) => e.durationMs >= SLOW_MS)).toBe(true);
    expect(Date.parse(boom[0].time)).toBeGreaterThanOrEqual(Date.parse(boom[4].time));

    expect(await edge.httpLogs(names, { limit: 100, status: '404' })).toHaveLength(10);
    expect(await edge.httpLogs(names, { limit: 100, status: '4xx' })).toHaveLength(10);
    expect(await edge.httpLogs(names, { limit: 3, status: '2xx' })).toHaveLength(3);
    const one = await edge.httpLogs(names, { limit: 100, pathPrefix: '/missing/7' });
    expect(one.map((e) => [e.path, e.status])).toEqual([['/missing/7', 404]]);
    const posts = await edge.httpLogs(names, { limit: 100, method: 'POST' });
    expect(posts).toMatchObject([{ path: '/ok/upload', bytesIn: 1000, bytesOut: OK_BODY.length }]);

    // the client's own X-Request-Id is what the app got and what the log says
    const byId = await edge.httpLogs(names, { limit: 100, requestId: 'client-3' });
    expect(byId.map((e) => e.path)).toEqual(['/ok/3']);
    expect(seen.find((s) => s.url === '/ok/3')?.requestId).toBe('client-3');
    // and every line's id is one the app saw
    const appIds = new Set(seen.map((s) => s.requestId));
    expect((await edge.httpLogs(names, { limit: 1000 })).every((e) => appIds.has(e.requestId))).toBe(true);
  });

  it('counts what the edge answers itself (503, static files) per service, and unknown hosts apart', async () => {
    const before = (await edge.metrics()).unrouted;
    expect((await send(port, 'down.test', '/x')).status).toBe(503);
    expect((await send(port, 'site.test', '/')).body).toBe('<h1>twelve</h1>');
    expect((await send(port, 'nowhere.test', '/')).status).toBe(404);
    const m = await edge.metrics();
    expect(m.unrouted).toBe(before + 1);
    expect(m.services['env-1_svc-2'].totals).toMatchObject({ requests: 1, status: { '5xx': 1 } });
    expect(m.services['env-1_svc-3'].totals).toMatchObject({
      requests: 1,
      status: { '2xx': 1 },
      bytesOut: '<h1>twelve</h1>'.length,
    });
    const site = await edge.httpLogs({ ...names, service: 'site', serviceId: 'svc-3' }, { limit: 10 });
    expect(site).toMatchObject([{ service: 'site', path: '/', status: 200, bytesOut: 15 }]);
  });

  it('keeps a retired deployment in the service totals after a new one takes over', async () => {
    await edge.apply(table(route('dep-2', app.port), ...extraRoutes()));
    for (let i = 0; i < 3; i++) expect((await send(port, 'api.test', '/ok/new')).status).toBe(200);
    const m = (await edge.metrics()).services['env-1_svc-1'];
    expect(Object.keys(m.deployments)).toEqual(['dep-2']);
    expect(m.deployments['dep-2']).toMatchObject({ requests: 3, status: { '2xx': 3 } });
    expect(m.totals).toMatchObject({ requests: 48, status: { '2xx': 33, '4xx': 10, '5xx': 5 } });
    const latest = await edge.httpLogs(names, { limit: 1 });
    expect(latest).toMatchObject([{ deploymentId: 'dep-2', path: '/ok/new' }]);
  });

  it('closes the log of a service that left the table, after writing its last requests', async () => {
    const logFile = path.join(edge.stateDir, 'access-logs', 'env-1_svc-1.ndjson');
    const openLogs = () =>
      fs
        .readdirSync(`/proc/${edge.pid()}/fd`)
        .map((fd) => {
          try {
            return fs.readlinkSync(`/proc/${edge.pid()}/fd/${fd}`);
          } catch {
            return '';
          }
        })
        .filter((l) => l === logFile);
    expect(openLogs()).toHaveLength(1);
    const slow = send(port, 'api.test', '/boom?last=1');
    await waitFor('the slow request to reach the app', () => seen.some((s) => s.url === '/boom?last=1'));
    await edge.apply(table(...extraRoutes())); // api is gone while its request is still in flight
    expect((await slow).status).toBe(500);
    await waitFor('the log file to be closed', () => openLogs().length === 0);
    const last = await edge.httpLogs(names, { limit: 1 });
    expect(last).toMatchObject([{ path: '/boom?last=1', status: 500, deploymentId: 'dep-2' }]);
    await edge.apply(table(route('dep-2', app.port), ...extraRoutes()));
  });

  it('rotates a service log by size and searches across both files', async () => {
    const small = new EdgeProcess({
      stateDir: path.join(tmp.dir, 'edge-small'),
      port: await freePort(),
      host: '127.0.0.1',
      accessLogMaxBytes: 2048,
    });
    pids.add(await small.ensureRunning());
    await small.apply({ version: 1, routes: [route('dep-r', app.port)] });
    for (let i = 0; i < 40; i++) {
      expect((await send(small.port, 'api.test', `/ok/r${i}`)).status).toBe(200);
      if (i % 4 === 3) await small.httpLogs(names, { limit: 1 }); // flushes: one write per 4 requests
    }
    const current = path.join(small.stateDir, 'access-logs', 'env-1_svc-1.ndjson');
    const rotated = path.join(small.stateDir, 'access-logs', 'env-1_svc-1.1.ndjson');
    expect(fs.statSync(current).size).toBeLessThanOrEqual(2048);
    expect(fs.statSync(rotated).size).toBeLessThanOrEqual(2048);
    const kept = (fs.readFileSync(current, 'utf8') + fs.readFileSync(rotated, 'utf8'))
      .trim()
      .split('\n').length;
    const all = await small.httpLogs(names, { limit: 1000 });
    expect(all).toHaveLength(kept);
    expect(all[0].path).toBe('/ok/r39');
    expect(all.map((e) => Number(e.path.slice(5)))).toEqual(Array.from({ length: kept }, (_, i) => 39 - i));
    expect(
      await searchAccessLog([current, rotated], { limit: 1, pathPrefix: `/ok/r${40 - kept}` }),
    ).toHaveLength(1);
  });

  it('counts and logs edge cache hits and 304s with the body bytes the client got', async () => {
    const cdn: ServiceNames = { ...names, service: 'cdn', serviceId: 'svc-4' };
    const cdnRoute: Route = { ...route('dep-cdn', app.port), ...cdn, hostnames: ['cdn.test'] };
    await edge.apply(table(route('dep-2', app.port), ...extraRoutes(), cdnRoute));
    for (let i = 0; i < 3; i++) expect((await send(port, 'cdn.test', '/shared')).body).toBe(OK_BODY);
    const revalidated = await send(port, 'cdn.test', '/shared', {
      headers: { 'if-none-match': '"v0", "v1"' },
    });
    expect(revalidated.status).toBe(304);
    expect(seen.filter((s) => s.url === '/shared')).toHaveLength(1); // one miss, then hits
    expect((await edge.metrics()).services['env-1_svc-4'].totals).toMatchObject({
      requests: 4,
      status: { '2xx': 3, '3xx': 1 },
      bytesOut: 3 * OK_BODY.length,
      active: 0,
    });
    const lines = await edge.httpLogs(cdn, { limit: 10 });
    expect(lines.map((e) => [e.status, e.bytesOut])).toEqual([
      [304, 0],
      [200, OK_BODY.length],
      [200, OK_BODY.length],
      [200, OK_BODY.length],
    ]);
    expect(new Set(lines.map((e) => e.requestId)).size).toBe(4);
  });

  it("parses HAProxy's log lines: body bytes, client aborts, escaped client text", () => {
    const fields = ['b', 's', 'st', 'us', 'ta', 'ip', 'bo', 'hi', 'ho', 'U', 'B', 'm', 'uid', 'hr', 'u'];
    const line = (o: Record<string, string>) => {
      const v: Record<string, string> = {
        b: 'be_web',
        s: 's1',
        st: '200',
        us: '1500',
        ta: '1',
        ip: '::ffff:10.0.0.1',
        bo: '-',
        hi: '-',
        ho: '100',
        U: '0',
        B: '0',
        m: 'GET',
        uid: 'A1-B2-3',
        hr: '{Web.Test.|r1|}',
        u: '/',
        ...o,
      };
      return fields.map((k) => v[k]).join('\t');
    };
    // chunked: HAProxy's count = start line (`HTTP/1.1 200 OK\r\n`, 17) + header block + payload
    expect(parseHaproxyLine(line({ B: String(17 + 100 + 42) }))).toMatchObject({
      status: 200,
      durationMs: 1.5,
      host: 'web.test',
      ip: '10.0.0.1',
      requestId: 'r1',
      bytesIn: 0,
      bytesOut: 42,
    });
    expect(parseHaproxyLine(line({ bo: '7', B: '999' }))?.bytesOut).toBe(7);
    expect(parseHaproxyLine(line({ m: 'HEAD', bo: '7' }))?.bytesOut).toBe(0);
    // a declared upload, and a chunked one: HAProxy counts `POST` `/up` `HTTP/1.1` (15), the header names and
    // values (62 - 4 × 3 - 2 = 48), 22 bytes of its own, then the payload
    expect(parseHaproxyLine(line({ m: 'POST', hr: '{web.test|r1|12}', U: '500' }))?.bytesIn).toBe(12);
    expect(
      parseHaproxyLine(line({ m: 'POST', u: '/up', hi: '62/3', U: String(15 + 48 + 22 + 5) }))?.bytesIn,
    ).toBe(5);
    // without a client id, the app got HAProxy's unique id
    expect(parseHaproxyLine(line({ hr: '{web.test||}' }))?.requestId).toBe('A1-B2-3');
    expect(parseHaproxyLine(line({ st: '-1', us: '-' }))).toMatchObject({ status: 499, durationMs: 1 });
    // HAProxy's #XX escapes are undone; a raw tab or `|` never appears inside a field
    expect(parseHaproxyLine(line({ u: '/a#22b\\c', hr: '{web.test|x#09y#7Cz#E9|}' }))).toMatchObject({
      path: '/a"b\\c',
      requestId: 'x\ty|z\u00e9',
    });
    // a bad request: no captures, so no host
    expect(parseHaproxyLine(line({ b: 'berth', st: '400', hr: '', u: '<BADREQ>' }))?.host).toBe('');
    expect(parseHaproxyLine(line({}).split('\t').slice(0, 10).join('\t'))).toBeNull();
    expect(parseHaproxyLine('[NOTICE] (1) : New worker (2) forked')).toBeNull();
  });

  it('computes bucket bounds that contain their values', () => {
    for (const ms of [0.05, 0.1, 0.11, 1, 2.5, 199, 200, 250, 10_000]) {
      const b = bucketOf(ms);
      expect(bucketUpperMs(b)).toBeGreaterThanOrEqual(ms - 1e-9);
      if (b > 0) expect(bucketUpperMs(b - 1)).toBeLessThan(ms);
    }
  });
});
