/** Counting routed requests (src/edge/request-record.ts): counters and access log lines, once per request. */

import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { AccessLog, accessLogFiles } from '../../src/edge/access-log.js';
import { MetricsRegistry } from '../../src/edge/metrics.js';
import { sendPage } from '../../src/edge/pages.js';
import { countPlain, recordRequest } from '../../src/edge/request-record.js';
import type { RouteEntry } from '../../src/edge/router.js';
import type { Route } from '../../src/edge/routing-table.js';
import { waitFor } from '../../src/lib/wait.js';
import { makeTmpDir } from '../helpers/tmp.js';

const tmp = makeTmpDir('berth-record-');
afterAll(() => tmp.cleanup());

const ROUTE: Route = {
  hostnames: ['a.test'],
  project: 'p',
  environment: 'production',
  service: 'web',
  deploymentId: 'd1',
  kind: 'proxy',
  targets: [],
  staticRoot: null,
};

function entry(log: AccessLog | null): RouteEntry {
  const counters = new MetricsRegistry().forDeployment(ROUTE, ROUTE.deploymentId);
  return {
    route: ROUTE,
    targets: [],
    rr: 0,
    redirect: null,
    policy: null,
    counters,
    log: log?.file(counters.key) ?? null,
  };
}

describe('recordRequest', () => {
  it('ends an active request in its counters and writes one access log line', async () => {
    const log = new AccessLog(tmp.dir);
    const e = entry(log);
    e.counters.active = 1;
    recordRequest(e, 'GET', '/x?y=1', '10.0.0.1', 'a.test', 204, performance.now() - 5, 3, 7, 'rid-1');
    expect(e.counters).toMatchObject({ active: 0, requests: 1, s2: 1, bytesIn: 3, bytesOut: 7 });
    await log.flush();
    const [file] = accessLogFiles(tmp.dir, e.counters.key);
    const line = JSON.parse(fs.readFileSync(file, 'utf8').trim());
    expect(line).toMatchObject({
      service: 'web',
      deploymentId: 'd1',
      method: 'GET',
      host: 'a.test',
      path: '/x?y=1',
      status: 204,
      bytesIn: 3,
      bytesOut: 7,
      requestId: 'rid-1',
      ip: '10.0.0.1',
    });
    expect(line.durationMs).toBeGreaterThanOrEqual(5);
    await log.close();
  });
});

describe('countPlain', () => {
  it('counts a response the edge writes itself when it closes, with its status and body bytes', async () => {
    const e = entry(null);
    const server = http.createServer((req, res) => {
      countPlain(e, req, res, 'a.test', performance.now(), null);
      expect(e.counters.active).toBe(1);
      sendPage(res, 503, '<p>nope</p>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      expect(res.status).toBe(503);
      const body = await res.text();
      await waitFor('the response to be counted', () => e.counters.requests === 1);
      expect(e.counters).toMatchObject({ active: 0, requests: 1, s5: 1, bytesOut: Buffer.byteLength(body) });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
