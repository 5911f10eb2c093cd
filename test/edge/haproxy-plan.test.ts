import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderConfig } from '../../src/edge/haproxy/config.js';
import { findHaproxy } from '../../src/edge/haproxy/driver.js';
import { backendName, type HaproxyState, planState } from '../../src/edge/haproxy/plan.js';
import { NOT_PLAIN_PATH } from '../../src/edge/haproxy/policy.js';
import { checkSetServerAnswer, parseShowProc, parseShowStat } from '../../src/edge/haproxy/runtime-api.js';
import type { RoutePolicy, RouteTarget, RoutingTable } from '../../src/edge/routing-table.js';
import { needs } from '../helpers/optional-tools.js';
import { makeTmpDir } from '../helpers/tmp.js';

const listen = { host: '0.0.0.0', port: 8080 };
const t = (id: string, port: number): RouteTarget => ({ id, host: '127.0.0.1', port });
function table(version: number, targets: RouteTarget[], extra: RoutingTable['routes'] = []): RoutingTable {
  return {
    version,
    routes: [
      {
        hostnames: ['web-p.localhost'],
        project: 'p',
        environment: 'production',
        service: 'web',
        deploymentId: `d${version}`,
        kind: 'proxy',
        targets,
        staticRoot: null,
      },
      ...extra,
    ],
  };
}
const plan = (prev: HaproxyState | null, tb: RoutingTable, busy: string[] = []) =>
  planState(prev, tb, { listen, staticPort: null, busy: new Set(busy) });
const be = backendName('p', 'production', 'web');

describe('HAProxy plan', () => {
  it('reloads for a new backend, then moves replicas through the runtime API only', () => {
    const first = plan(null, table(1, [t('a', 4001)]));
    expect(first.reload).toBe(true);
    expect(first.next.backends[0].slots).toHaveLength(8);
    expect(first.next.backends[0].slots[0]).toMatchObject({ id: 'a', port: 4001, status: 'ready' });

    // new replica healthy: fills a free slot, then the old one drains
    const second = plan(first.next, table(2, [t('b', 4002)]));
    expect(second.reload).toBe(false);
    expect(second.commands).toEqual([
      `set server ${be}/s2 addr 127.0.0.1 port 4002`,
      `set server ${be}/s2 state ready`,
      `set server ${be}/s1 state drain`,
      // the cache key moves to the new deployment once the old replica takes no new request
      `set map deployments.map ${be} d2`,
    ]);

    // a draining slot with sessions is kept; once idle it is freed before a new replica may reuse it
    const busy = plan(second.next, table(3, [t('b', 4002)]), ['127.0.0.1:4001']);
    expect(busy.commands).toEqual([`set map deployments.map ${be} d3`]);
    expect(busy.next.backends[0].slots[0].status).toBe('drain');
    const reuse = plan(busy.next, table(4, [t('c', 4003)]));
    expect(reuse.reload).toBe(false);
    expect(reuse.commands).toEqual([
      `set server ${be}/s1 state maint`,
      `set server ${be}/s1 addr 127.0.0.1 port 4003`,
      `set server ${be}/s1 state ready`,
      `set server ${be}/s2 state drain`,
      `set map deployments.map ${be} d4`,
    ]);
    const same = plan(reuse.next, {
      ...table(5, [t('c', 4003)]),
      routes: [{ ...table(5, []).routes[0], targets: [t('c', 4003)], deploymentId: 'd4' }],
    });
    // same deployment: no cache key change
    expect(same.commands).toEqual([`set server ${be}/s2 state maint`]);
  });

  it('reloads when the slots run out, a host is added or the listener changes', () => {
    const first = plan(null, table(1, [t('a', 4001)]));
    const many = plan(
      first.next,
      table(
        2,
        Array.from({ length: 9 }, (_, i) => t(`n${i}`, 5000 + i)),
      ),
    );
    expect(many.reload).toBe(true);
    expect(many.next.backends[0].slots.length).toBeGreaterThanOrEqual(18);
    const api = {
      hostnames: ['api-p.localhost'],
      project: 'p',
      environment: 'production',
      service: 'api',
      deploymentId: 'x',
      kind: 'proxy' as const,
      targets: [],
      staticRoot: null,
    };
    expect(plan(first.next, table(3, [t('a', 4001)], [api])).reload).toBe(true);
    expect(
      planState(first.next, table(4, [t('a', 4001)]), {
        listen: { ...listen, port: 9090 },
        staticPort: null,
        busy: new Set(),
      }).reload,
    ).toBe(true);
    expect(plan(first.next, table(5, [t('a', 4001)])).reload).toBe(false);
  });
});

describe('HAProxy plan: HTTPS', () => {
  const withRedirect = (version: number): RoutingTable => {
    const tb = table(version, [t('a', 4001)]);
    tb.routes[0].hostnames.push('shop.example', 'www.other.example');
    tb.routes[0].redirectToHttps = ['shop.example', 'www.other.example'];
    return tb;
  };
  const cert = (name: string, hash = 'h1') => ({ name, file: `/e/certs/${name}.pem`, hash });
  const tlsPlan = (prev: HaproxyState | null, tb: RoutingTable, certs: ReturnType<typeof cert>[]) =>
    planState(prev, tb, { listen, tls: { port: 8443, certs }, staticPort: 9000, busy: new Set() });

  it('redirects only hosts that have a certificate (exact or wildcard), naming the HTTPS port', () => {
    const p = tlsPlan(null, withRedirect(1), [cert('shop.example'), cert('*.other.example')]);
    expect(p.next.redirects).toEqual([
      ['shop.example', 'https://shop.example:8443'],
      ['www.other.example', 'https://www.other.example:8443'],
    ]);
    expect(tlsPlan(null, withRedirect(1), [cert('web-p.localhost')]).next.redirects).toEqual([]);
    const on443 = planState(null, withRedirect(1), {
      listen,
      tls: { port: 443, certs: [cert('shop.example')] },
      staticPort: 9000,
      busy: new Set(),
    });
    expect(on443.next.redirects).toEqual([['shop.example', 'https://shop.example']]);
  });

  it('reloads when a certificate is added or renewed, not when only replicas change', () => {
    const first = tlsPlan(null, withRedirect(1), [cert('shop.example')]);
    expect(tlsPlan(first.next, withRedirect(2), [cert('shop.example')]).reload).toBe(false);
    expect(tlsPlan(first.next, withRedirect(2), [cert('shop.example', 'h2')]).reload).toBe(true);
    expect(tlsPlan(first.next, withRedirect(2), [cert('shop.example'), cert('web-p.localhost')]).reload).toBe(
      true,
    );
  });

  it('renders the TLS bind, the crt-list by SNI name, the redirect map and the ACME route', () => {
    const p = tlsPlan(null, withRedirect(1), [cert('shop.example'), cert('*.other.example')]);
    const files = renderConfig(p.next, '/e/haproxy');
    expect(files['haproxy.cfg']).toContain('bind 0.0.0.0:8443 ssl crt-list /e/haproxy/certs.list strict-sni');
    expect(files['certs.list']).toBe(
      '/e/certs/shop.example.pem shop.example\n/e/certs/*.other.example.pem *.other.example\n',
    );
    expect(files['redirects.map']).toContain('shop.example https://shop.example:8443\n');
    expect(files['haproxy.cfg']).toContain(
      'use_backend be_static if { path_beg /.well-known/acme-challenge/ }',
    );
  });
});

describe('HAProxy config', () => {
  it('renders servers with their addresses and free slots as server-template runs', () => {
    const first = plan(null, table(1, [t('a', 4001)]));
    const files = renderConfig(first.next, '/srv/edge/haproxy');
    const cfg = files['haproxy.cfg'];
    expect(cfg).toContain(`backend ${be}`);
    expect(cfg).toContain('  server s1 127.0.0.1:4001\n');
    expect(cfg).toContain('  server-template s 2-8 127.0.0.1:1 disabled\n');
    expect(files['hosts.map']).toBe(`web-p.localhost ${be}\nweb-p.localhost. ${be}\n`);
    expect(files['pages/404-host.html']).toContain('No service is deployed at %[var(txn.host)]');
    expect(files[`pages/${be}.503.html`]).toContain('web has no healthy replica right now');
  });

  it.skipIf(findHaproxy() === null)(needs('haproxy', 'is accepted by haproxy -c').title, () => {
    const { dir, cleanup } = makeTmpDir('berth-hacfg-');
    try {
      const first = plan(null, table(1, [t('a', 4001)]));
      const tb = table(2, [t('b', 4002)]);
      tb.routes[0].redirectToHttps = ['web-p.localhost'];
      const drained = planState(first.next, tb, {
        listen,
        tls: { port: 8443, certs: [] },
        staticPort: 9000,
        busy: new Set(),
      }).next;
      expect(drained.redirects).toEqual([]);
      drained.redirects = [['web-p.localhost', 'https://web-p.localhost:8443']];
      for (const [rel, text] of Object.entries(renderConfig(drained, dir))) {
        fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        fs.writeFileSync(path.join(dir, rel), text);
      }
      execFileSync(findHaproxy()!, ['-c', '-q', '-f', path.join(dir, 'haproxy.cfg')], { timeout: 15_000 });
    } finally {
      cleanup();
    }
  });
});

describe('HAProxy plan: [edge] policy and cache', () => {
  const withPolicy = (version: number, policy: RoutePolicy | undefined): RoutingTable => {
    const tb = table(version, [t('a', 4001)]);
    tb.routes[0].policy = policy;
    tb.routes.push({
      hostnames: ['www-p.localhost'],
      project: 'p',
      environment: 'production',
      service: 'www',
      deploymentId: 'sd',
      kind: 'static',
      targets: [],
      staticRoot: '/srv/www',
      policy,
    });
    return tb;
  };
  const full: RoutePolicy = {
    rateLimit: 5,
    rateLimitWindowSeconds: 30,
    maxBodySize: 1024,
    allowIps: ['127.0.0.0/8', '::1'],
    denyIps: ['127.0.0.9'],
    denyPaths: ['/admin', '/private/', '/bad path'],
  };
  const pl = (prev: HaproxyState | null, tb: RoutingTable) =>
    planState(prev, tb, { listen, staticPort: 9000, busy: new Set() });

  it('reloads when a policy changes, not when it stays; an empty policy is none', () => {
    const first = pl(null, withPolicy(1, full));
    expect(first.next.backends[0].policy).toMatchObject({ rateLimit: 5, denyPaths: ['/admin', '/private/'] });
    expect(pl(first.next, withPolicy(2, { ...full })).reload).toBe(false);
    expect(pl(first.next, withPolicy(2, { ...full, rateLimit: 6 })).reload).toBe(true);
    const none = pl(null, withPolicy(1, { denyIps: [], rateLimit: null }));
    expect(none.next.backends[0].policy).toBeNull();
    expect(none.next.staticHosts).toEqual(['www-p.localhost']);
    expect(pl(none.next, withPolicy(2, undefined)).reload).toBe(false);
  });

  it('renders the checks in the built-in order, a static site with a policy as its own backend, and the cache', () => {
    const p = pl(null, withPolicy(1, full));
    const files = renderConfig(p.next, '/e/haproxy');
    const cfg = files['haproxy.cfg'];
    const at = (s: string) => {
      const i = cfg.indexOf(s);
      expect(i, s).toBeGreaterThan(0);
      return i;
    };
    const order = [
      `{ src -f /e/haproxy/policy/${be}.deny-ips }`,
      `!{ src -f /e/haproxy/policy/${be}.allow-ips }`,
      `{ path -i -m reg -f /e/haproxy/policy/${be}.plain-path }`,
      `{ path -i -f /e/haproxy/policy/${be}.deny-paths } || { path_beg -i -f /e/haproxy/policy/${be}.deny-path-prefixes }`,
      '{ req.hdr_val(content-length) gt 1024 }',
      'wait-for-body time 10s at-least 1025',
      'store http_req_rate(30s)',
      'hdr retry-after 30',
      'http-request cache-use berth',
    ].map(at);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(files[`policy/${be}.deny-path-prefixes`]).toBe('/admin/\n/private/\n');
    expect(files[`policy/${be}.plain-path`]).toBe(`${NOT_PLAIN_PATH}\n`);
    expect(files[`pages/${be}.429.html`]).toContain('this service allows 5 per 30 s per client');
    expect(files['deployments.map']).toBe(`${be} d1\n`);
    const www = backendName('p', 'production', 'www');
    expect(files['hosts.map']).toContain(`www-p.localhost ${www}\n`);
    expect(cfg).toMatch(new RegExp(`backend ${www}\n[^]*deny-ips[^]*server builtin 127.0.0.1:9000`));
  });

  it.skipIf(findHaproxy() === null)(needs('haproxy', 'is accepted by haproxy -c').title, () => {
    const { dir, cleanup } = makeTmpDir('berth-hapol-');
    try {
      for (const [rel, text] of Object.entries(renderConfig(pl(null, withPolicy(1, full)).next, dir))) {
        fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        fs.writeFileSync(path.join(dir, rel), text);
      }
      execFileSync(findHaproxy()!, ['-c', '-q', '-f', path.join(dir, 'haproxy.cfg')], { timeout: 15_000 });
    } finally {
      cleanup();
    }
  });
});

describe('HAProxy runtime API answers', () => {
  it('parses show stat and show proc', () => {
    const stat = parseShowStat(
      '# pxname,svname,qcur,qmax,scur,smax,slim,stot,status,addr\n' +
        'be_x,s1,0,0,2,3,,9,DRAIN,127.0.0.1:4001\nbe_x,BACKEND,0,0,2,3,,9,UP,\n',
    );
    expect(stat).toEqual([
      { backend: 'be_x', server: 's1', addr: '127.0.0.1:4001', scur: 2, stot: 9, status: 'DRAIN' },
    ]);
    const procs = parseShowProc(
      '#<PID>  <type>  <reloads> <uptime> <version>\n10 master 2 [failed: 1] 0d 2.6\n# workers\n12 worker 0 0d 2.6\n' +
        '# old workers\n11 worker 1 0d 2.6\n# programs\n',
    );
    expect(procs).toEqual({
      master: { pid: 10, reloads: 2, failedReloads: 1 },
      workers: [12],
      oldWorkers: [11],
    });
  });

  it('tells a refused server change from a successful one', () => {
    expect(() => checkSetServerAnswer("IP changed from '127.0.0.1' to '127.0.0.2'\n\n")).not.toThrow();
    expect(() => checkSetServerAnswer('No such server.\n')).toThrow(/No such server/);
  });
});
