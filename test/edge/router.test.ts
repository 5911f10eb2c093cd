/** The built-in edge's routing (src/edge/router.ts): host keys and a routing table compiled into route entries. */

import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Balancer } from '../../src/edge/balancer.js';
import { MetricsRegistry } from '../../src/edge/metrics.js';
import { compileTable, EMPTY_TABLE, normalizeHost, type RouteResources } from '../../src/edge/router.js';
import type { Route, RoutingTable } from '../../src/edge/routing-table.js';

describe('normalizeHost', () => {
  it.each([
    ['example.com', 'example.com'],
    ['Example.COM', 'example.com'],
    ['example.com:8080', 'example.com'],
    ['example.com.', 'example.com'],
    ['example.com.:80', 'example.com'],
    ['[::1]:80', '[::1]'],
    ['[::1]', '[::1]'],
    ['', ''],
  ])('%j → %j', (host, key) => {
    expect(normalizeHost(host)).toBe(key);
  });
});

function route(over: Partial<Route> & { hostnames: string[]; deploymentId: string }): Route {
  return {
    project: 'p',
    environment: 'production',
    service: 'web',
    kind: 'proxy',
    targets: [],
    staticRoot: null,
    ...over,
  };
}

describe('compileTable', () => {
  let balancer: Balancer | null = null;
  afterEach(async () => {
    await balancer?.close();
    balancer = null;
  });

  function resources(): RouteResources {
    const b = new Balancer({
      maxConnections: 4,
      connectTimeoutMs: 1000,
      timeoutMs: 1000,
      keepAliveMs: 1000,
      maxHeaderSize: http.maxHeaderSize,
    });
    balancer = b;
    const metrics = new MetricsRegistry();
    return {
      target: (t) => b.target(t),
      counters: (r) => metrics.forDeployment(r, r.deploymentId),
      log: () => null,
    };
  }

  it('maps every normalised host name to its route; the first route listing a host keeps it', () => {
    const table: RoutingTable = {
      version: 3,
      routes: [
        route({
          hostnames: ['A.test', 'www.a.test.'],
          deploymentId: 'd1',
          targets: [
            { id: 'i1', host: '127.0.0.1', port: 4001 },
            { id: 'i2', host: '127.0.0.1', port: 4002 },
          ],
        }),
        route({ hostnames: ['a.test', 'b.test'], deploymentId: 'd2', service: 'other' }),
      ],
    };
    const next = compileTable(table, EMPTY_TABLE, resources());
    expect(next.table.version).toBe(3);
    expect([...next.table.byHost.keys()]).toEqual(['a.test', 'www.a.test', 'b.test']);
    const a = next.table.byHost.get('a.test');
    expect(a?.route.deploymentId).toBe('d1');
    expect(next.table.byHost.get('www.a.test')).toBe(a);
    expect(next.table.byHost.get('b.test')?.route.service).toBe('other');
    expect(a?.targets.map((t) => t.key)).toEqual(['127.0.0.1:4001', '127.0.0.1:4002']);
    expect(a?.rr).toBe(0);
    expect(next.targetKeys).toEqual(new Set(['127.0.0.1:4001', '127.0.0.1:4002']));
    expect(next.targetIds).toEqual(new Set(['i1', 'i2']));
    expect(next.deployments).toEqual(new Set(['d1', 'd2']));
    expect(next.logKeys.size).toBe(2);
  });

  it('gives a static route no targets, and keeps redirect hosts and policy per route', () => {
    const table: RoutingTable = {
      version: 1,
      routes: [
        route({
          hostnames: ['s.test'],
          deploymentId: 'd1',
          kind: 'static',
          staticRoot: '/srv/site',
          targets: [{ id: 'ignored', host: '127.0.0.1', port: 4003 }],
          redirectToHttps: ['S.test:80'],
          policy: { denyPaths: ['/admin'] },
        }),
        route({ hostnames: ['plain.test'], deploymentId: 'd2', redirectToHttps: [] }),
      ],
    };
    const next = compileTable(table, EMPTY_TABLE, resources());
    const s = next.table.byHost.get('s.test');
    expect(s?.targets).toEqual([]);
    expect(s?.redirect).toEqual(new Set(['s.test']));
    expect(s?.policy?.check('10.0.0.1', '/ADMIN/x', 0)).toMatchObject({ ok: false, status: 403 });
    const plain = next.table.byHost.get('plain.test');
    expect(plain?.redirect).toBeNull();
    expect(plain?.policy).toBeNull();
    expect(next.targetKeys.size).toBe(0);
  });

  it("carries a route's rate-limit state over a swap while its policy is unchanged", () => {
    const res = resources();
    const policy = { rateLimit: 1, rateLimitWindowSeconds: 60 };
    const t1 = compileTable(
      { version: 1, routes: [route({ hostnames: ['r.test'], deploymentId: 'd1', policy })] },
      EMPTY_TABLE,
      res,
    );
    const before = t1.table.byHost.get('r.test')?.policy;
    expect(before?.check('10.0.0.1', '/', 0).ok).toBe(true);
    const t2 = compileTable(
      { version: 2, routes: [route({ hostnames: ['R.test'], deploymentId: 'd2', policy })] },
      t1.table,
      res,
    );
    expect(t2.table.byHost.get('r.test')?.policy).toBe(before);
    expect(t2.table.byHost.get('r.test')?.policy?.check('10.0.0.1', '/', 0)).toMatchObject({ status: 429 });
  });
});
