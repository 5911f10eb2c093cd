import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findHaproxy } from '../../src/edge/haproxy/driver.js';
import { parseShowProc, runtimeCommand } from '../../src/edge/haproxy/runtime-api.js';
import { waitFor } from '../../src/lib/wait.js';
import { LocalCa } from '../../src/tls/local-ca.js';
import { BerthHarness } from '../helpers/berth.js';
import { requestFrom } from '../helpers/client.js';
import { httpsGet } from '../helpers/https.js';
import { Load } from '../helpers/load.js';

/** Opens an Upgrade tunnel through the edge; resolves with a function that sends a line and reads the echo. */
function openTunnel(
  port: number,
  host: string,
): Promise<{ say: (s: string) => Promise<string>; close: () => void }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = '';
    let waiter: ((s: string) => void) | null = null;
    sock.setEncoding('utf8');
    sock.on('error', reject);
    sock.on('connect', () =>
      sock.write(
        `GET /ws HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      ),
    );
    sock.on('data', (d: string) => {
      buf += d;
      const head = buf.indexOf('\r\n\r\n');
      if (waiter === null && head >= 0 && buf.startsWith('HTTP/1.1 101')) {
        buf = buf.slice(head + 4);
        waiter = () => undefined;
        resolve({
          say: (s) =>
            new Promise((r) => {
              waiter = r;
              sock.write(s);
            }),
          close: () => sock.destroy(),
        });
      } else if (waiter === null && head >= 0) {
        reject(new Error(`no 101: ${buf.split('\r\n')[0]}`));
      } else if (waiter !== null && buf.length > 0) {
        const w = waiter;
        const got = buf;
        buf = '';
        w(got);
      }
    });
  });
}

const drivers = findHaproxy() === null ? (['builtin'] as const) : (['builtin', 'haproxy'] as const);

/**
 * The same behaviour from every edge driver, through the real daemon and CLI: zero-downtime switches
 * under load, draining, WebSocket tunnels, edge pages, a data plane that survives kill -9 of the daemon,
 * HTTPS by SNI, ACME challenges, HTTPS redirects, X-Request-Id, private endpoints, the edge cache and the
 * `[edge]` policy (rate limits, IP/path rules, body size).
 */
describe.each(drivers)('edge conformance: %s', (kind) => {
  const berth = new BerthHarness();
  const scope = ['-p', 'ec', '-s', 'web'];
  let host: string;

  /** HAProxy's master process list (reload count, worker pids), read from its master CLI. */
  const haproxyProcs = async () =>
    parseShowProc(
      await runtimeCommand(path.join(berth.dataDir, 'edge', 'haproxy', 'master.sock'), 'show proc'),
    );
  /** Identifies the running data plane: a change means it was restarted or reloaded. */
  const dataPlane = async () => {
    if (kind === 'builtin')
      return fs.readFileSync(path.join(berth.dataDir, 'edge', 'edge.pid'), 'utf8').trim();
    const p = await haproxyProcs();
    return `${p.master.pid}/${p.workers.join(',')}/${p.master.reloads}`;
  };

  beforeAll(async () => {
    berth.serverArgs = ['--edge', kind];
    await berth.start();
    host = berth.hostFor('web', 'ec');
    const up = await berth.cli(['up', berth.app('lifecycle', 'web'), ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('runs the chosen driver', async () => {
    expect(berth.serverLog()).toContain(`(${kind} edge)`);
    expect((await berth.get(host)).body).toBe('v1');
    // Host matching ignores case, the port and a trailing dot.
    expect((await berth.get(`${host.toUpperCase()}.:${berth.httpPort}`)).body).toBe('v1');
  });

  it('sets X-Forwarded-For/Proto/Host and keeps Host', async () => {
    const res = await berth.get(`${host}:${berth.httpPort}`, '/headers');
    const h = JSON.parse(res.body) as Record<string, string>;
    expect(h.host).toBe(`${host}:${berth.httpPort}`);
    expect(h['x-forwarded-for']).toContain('127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe(`${host}:${berth.httpPort}`);
  });

  it('answers 404 for an unknown host, naming it, without markup injection', async () => {
    const res = await berth.get('nobody.localhost');
    expect(res.status).toBe(404);
    expect(res.body).toContain('No service is deployed at nobody.localhost');
    expect(res.headers['cache-control']).toBe('no-store');
    const evil = await berth.get('<script>x</script>.localhost');
    expect(evil.status).toBe(404);
    expect(evil.body).not.toContain('<script>');
  });

  it('drains a request in flight on the old replica before stopping it', async () => {
    // EXIT_ON_SIGTERM: the old replica drops whatever it still has when it gets SIGTERM.
    const set = await berth.cli(['variables', 'set', 'EXIT_ON_SIGTERM=1', ...scope]);
    expect(set.code, set.stderr).toBe(0);
    expect((await berth.settledDeployments(scope))[0].status).toBe('SUCCESS');
    const slow = berth.get(host, '/slow?ms=3000');
    await new Promise((r) => setTimeout(r, 300)); // let the request reach the old replica
    const next = await berth.cli(['variables', 'set', 'VERSION=v2', ...scope]);
    expect(next.code, next.stderr).toBe(0);
    expect((await berth.settledDeployments(scope))[0].status).toBe('SUCCESS');
    expect((await berth.get(host)).body).toBe('v2');
    const res = await slow;
    expect(res.status).toBe(200);
    expect(res.body).toBe('slow v1');
  });

  it('zero failed requests while deploys swap replicas under load', async () => {
    const load = new Load(berth.httpPort, host).start(4, 2);
    try {
      for (const v of ['v3', 'v4']) {
        const set = await berth.cli(['variables', 'set', `VERSION=${v}`, ...scope]);
        expect(set.code, set.stderr).toBe(0);
        expect((await berth.settledDeployments(scope))[0].status).toBe('SUCCESS');
      }
    } finally {
      await load.stop();
    }
    expect(load.failures).toEqual([]);
    expect(load.ok).toBeGreaterThan(100);
    expect((await berth.get(host)).body).toBe('v4');
  });

  it('tunnels WebSocket upgrades, also across a deploy', async () => {
    const ws = await openTunnel(berth.httpPort, host);
    try {
      expect(await ws.say('ping')).toBe('v4:ping');
      const set = await berth.cli(['variables', 'set', 'VERSION=v5', ...scope]);
      expect(set.code, set.stderr).toBe(0);
      expect((await berth.settledDeployments(scope))[0].status).toBe('SUCCESS');
      expect((await berth.get(host)).body).toBe('v5');
      // The old replica keeps its open tunnel until the client closes it.
      expect(await ws.say('still there')).toBe('v4:still there');
    } finally {
      ws.close();
    }
    const fresh = await openTunnel(berth.httpPort, host);
    expect(await fresh.say('hi')).toBe('v5:hi');
    fresh.close();
  });

  it('adding a service (a reload for HAProxy) under load drops nothing', async () => {
    const before = kind === 'haproxy' ? (await haproxyProcs()).master.reloads : 0;
    // New connections only: HAProxy 2.6 closes idle keep-alive connections of the old worker on a reload, and
    // a request racing that close is reset (documented in docs/architecture.md; 2.7+ avoids it).
    const load = new Load(berth.httpPort, host).start(0, 6);
    try {
      const up = await berth.cli(['up', berth.app('procfile-app', 'api'), '-p', 'ec', '-s', 'api']);
      expect(up.code, up.stdout + up.stderr).toBe(0);
    } finally {
      await load.stop();
    }
    expect(load.failures).toEqual([]);
    expect(load.ok).toBeGreaterThan(50);
    expect((await berth.get(berth.hostFor('api', 'ec'))).body).toBe('procfile-app');
    if (kind === 'haproxy') expect((await haproxyProcs()).master.reloads).toBeGreaterThan(before);
  });

  it('serves static sites', async () => {
    const up = await berth.cli(['up', berth.app('static-site'), '-p', 'ec', '-s', 'www']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const res = await berth.get(berth.hostFor('www', 'ec'), '/about');
    expect(res.status).toBe(200);
    expect(res.body).toContain('About this static site');
  });

  it('serves a Vite single-page app: deep links get index.html, assets their type, a missing asset 404s', async () => {
    const up = await berth.cli(['up', berth.app('vite-spa'), '-p', 'ec', '-s', 'spa']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const host = berth.hostFor('spa', 'ec');
    const home = await berth.get(host, '/');
    expect(home.status).toBe(200);
    expect(home.body).toContain('vite-spa shell');
    const deep = await berth.get(host, '/dashboard/settings');
    expect(deep.status).toBe(200);
    expect(deep.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(deep.body).toBe(home.body);
    // The built bundle, whose hashed name only the build knows.
    const script = /src="(\/assets\/index-[\w-]+\.js)"/.exec(home.body)?.[1];
    expect(script).toBeDefined();
    const asset = await berth.get(host, script);
    expect(asset.status).toBe(200);
    expect(asset.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(asset.body).toContain('/dashboard/settings');
    expect((await berth.get(host, '/assets/missing-1234.js')).status).toBe(404);
  });

  it('answers 503 at once for a service without a healthy replica', async () => {
    const dir = berth.app('lifecycle', 'down');
    const toml = path.join(dir, 'railway.toml');
    fs.writeFileSync(toml, fs.readFileSync(toml, 'utf8').replace('"ON_FAILURE"', '"NEVER"'));
    const downScope = ['-p', 'ec', '-s', 'down'];
    await berth.cli(['add', '--service', 'down', '-p', 'ec']);
    await berth.cli([
      'variables',
      'set',
      'EXIT_AFTER_MS=1500',
      'EXIT_CODE=3',
      '--skip-deploys',
      ...downScope,
    ]);
    const up = await berth.cli(['up', dir, ...downScope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const downHost = berth.hostFor('down', 'ec');
    const res = await waitFor('the 503 page', async () => {
      const r = await berth.get(downHost);
      return r.status === 503 ? r : null;
    });
    expect(res.body).toContain('down has no healthy replica right now');
  });

  it('keeps serving through kill -9 of the daemon; a new daemon re-attaches without a reload', async () => {
    const before = await dataPlane();
    const load = new Load(berth.httpPort, host).start(2, 1);
    try {
      await berth.killDaemon();
      await waitFor('requests while the daemon is dead', () => load.ok > 50);
      await berth.startDaemon();
      await waitFor('requests after the restart', () => load.ok > 100);
    } finally {
      await load.stop();
    }
    expect(load.failures).toEqual([]);
    expect(await dataPlane()).toBe(before);
    // A redeploy after re-attaching swaps replicas at runtime: still no reload or restart.
    const set = await berth.cli(['variables', 'set', 'VERSION=v6', ...scope]);
    expect(set.code, set.stderr).toBe(0);
    expect((await berth.settledDeployments(scope))[0].status).toBe('SUCCESS');
    expect((await berth.get(host)).body).toBe('v6');
    expect(await dataPlane()).toBe(before);
  });

  const localCa = () => fs.readFileSync(path.join(berth.dataDir, 'ca', 'ca.pem'), 'utf8');

  it('serves HTTPS by SNI with the local-CA certificate and refuses a name without one', async () => {
    const res = await waitFor('HTTPS on the generated domain', async () => {
      const r = await httpsGet(berth.httpsPort, host, localCa(), '/headers').catch(() => null);
      return r?.status === 200 ? r : null;
    });
    const h = JSON.parse(res.body) as Record<string, string>;
    expect(h['x-forwarded-proto']).toBe('https');
    expect(h.host).toBe(host);
    await expect(httpsGet(berth.httpsPort, 'nobody.localhost', localCa())).rejects.toThrow();
  });

  it('answers ACME HTTP-01 challenges from the challenge directory for every host', async () => {
    const dir = path.join(berth.dataDir, 'edge', 'acme-challenge');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `tok-${kind}_1`), `tok-${kind}_1.key-authz`);
    for (const h of [host, 'not-routed.example']) {
      const res = await berth.get(h, `/.well-known/acme-challenge/tok-${kind}_1`);
      expect(res).toMatchObject({ status: 200, body: `tok-${kind}_1.key-authz` });
    }
    expect((await berth.get(host, '/.well-known/acme-challenge/unknown')).status).toBe(404);
  });

  it('redirects plain HTTP to HTTPS (308) for a custom domain with a certificate, but not ACME requests', async () => {
    const domain = `shop-${kind}.conformance.example`;
    const own = await LocalCa.open(path.join(berth.dir, 'own-ca'), 'Own CA');
    const leaf = await own.issue([domain]);
    fs.writeFileSync(path.join(berth.dir, 'shop.pem'), leaf.certPem);
    fs.writeFileSync(path.join(berth.dir, 'shop.key'), leaf.keyPem);
    expect((await berth.cli(['domain', domain, ...scope])).code).toBe(0);
    const cert = ['--cert', path.join(berth.dir, 'shop.pem'), '--key', path.join(berth.dir, 'shop.key')];
    const added = await berth.cli(['domain', 'cert', domain, ...cert, ...scope]);
    expect(added.code, added.stderr).toBe(0);
    const plain = await berth.get(domain, '/some/path?q=1');
    expect(plain.status).toBe(308);
    expect(plain.headers.location).toBe(`https://${domain}:${berth.httpsPort}/some/path?q=1`);
    expect(plain.headers['cache-control']).toBe('no-store');
    expect(await httpsGet(berth.httpsPort, domain, own.certPem)).toMatchObject({ status: 200, body: 'v6' });
    expect((await berth.get(domain, `/.well-known/acme-challenge/tok-${kind}_1`)).status).toBe(200);
    // The generated domain has no redirect.
    expect((await berth.get(host)).status).toBe(200);
  });

  it('keeps a client X-Request-Id and sets a unique one otherwise', async () => {
    const headers = async (extra: Record<string, string>) => {
      const res = await request(`http://127.0.0.1:${berth.httpPort}/headers`, {
        headers: { host, ...extra },
      });
      return JSON.parse(await res.body.text()) as Record<string, string>;
    };
    expect((await headers({ 'x-request-id': 'client-chosen-1' }))['x-request-id']).toBe('client-chosen-1');
    const a = (await headers({}))['x-request-id'];
    const b = (await headers({}))['x-request-id'];
    expect(a).toMatch(/^\S{8,}$/);
    expect(b).toMatch(/^\S{8,}$/);
    expect(a).not.toBe(b);
    const tls = await httpsGet(berth.httpsPort, host, localCa(), '/headers');
    expect(JSON.parse(tls.body)['x-request-id']).toMatch(/^\S{8,}$/);
  });

  it('forwards a private endpoint to the service behind it, for another service', async () => {
    // The scratch hosts file has the private addresses (apps resolve through /etc/hosts; here we use the IP).
    const apiDomain = 'api.production.ec.internal';
    const line = fs
      .readFileSync(berth.hostsFile, 'utf8')
      .split('\n')
      .find((l) => l.endsWith(` ${apiDomain}`));
    expect(line).toBeDefined();
    const ip = (line as string).split(' ')[0];
    const set = await berth.cli(['variables', 'set', `PRIV_URL=http://${ip}:\${{api.PORT}}/`, ...scope]);
    expect(set.code, set.stderr).toBe(0);
    expect((await berth.settledDeployments(scope))[0].status).toBe('SUCCESS');
    expect(await berth.get(host, '/call?var=PRIV_URL')).toMatchObject({ status: 200, body: 'procfile-app' });
  });

  it('serves shareable responses from the cache; no-cache, Authorization and private go to the app; a deploy purges', async () => {
    const get = (p: string, headers: Record<string, string> = {}) =>
      requestFrom(berth.httpPort, host, '127.0.0.1', p, { headers });
    const first = await get('/cached');
    expect(first.body).toMatch(/^cached \d+ v6$/);
    const hit = await get('/cached');
    expect(hit).toMatchObject({ status: 200, body: first.body });
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(Number(hit.headers.age)).toBeGreaterThanOrEqual(0);
    expect((await get('/cached', { 'if-none-match': '"v6"' })).status).toBe(304);

    const authorized = await get('/cached', { authorization: 'Bearer x' });
    expect(authorized.headers['x-cache']).toBeUndefined();
    expect(authorized.body).not.toBe(first.body);
    const reload = await get('/cached', { 'cache-control': 'no-cache' });
    expect(reload.headers['x-cache']).toBeUndefined();
    expect(reload.body).not.toBe(authorized.body);
    // The reload refreshed the entry.
    expect(await get('/cached')).toMatchObject({ body: reload.body, headers: { 'x-cache': 'HIT' } });
    await get('/private');
    expect((await get('/private')).headers['x-cache']).toBeUndefined();

    // An Age from a cache in front of the app counts: one Age field on a hit, at least the upstream's; a
    // response already older than its max-age (60) is not served from the cache.
    await get('/aged?age=30');
    const aged = await get('/aged?age=30');
    expect(aged.headers['x-cache']).toBe('HIT');
    const ages = (aged.rawHeaders ?? []).filter((_, i, raw) => i % 2 === 0 && raw[i].toLowerCase() === 'age');
    expect(ages).toHaveLength(1);
    expect(Number(aged.headers.age)).toBeGreaterThanOrEqual(30);
    expect(Number(aged.headers.age)).toBeLessThan(60);
    await get('/aged?age=61');
    expect((await get('/aged?age=61')).headers['x-cache']).toBeUndefined();

    // The purge is part of the runtime replica switch: no reload.
    const plane = await dataPlane();
    const set = await berth.cli(['variables', 'set', 'VERSION=v7', ...scope]);
    expect(set.code, set.stderr).toBe(0);
    expect((await berth.settledDeployments(scope))[0].status).toBe('SUCCESS');
    expect(await dataPlane()).toBe(plane);
    const after = await get('/cached');
    expect(after.body).toMatch(/^cached \d+ v7$/);
    expect(after.headers['x-cache']).toBeUndefined();
    expect((await get('/cached')).headers['x-cache']).toBe('HIT');
  });

  it('enforces the [edge] policy: a burst gets exactly the limit, then 429s; other clients unaffected; 403; 413', async () => {
    const waf = await berth.cli([
      'waf',
      '--rate-limit',
      '5',
      '--window',
      '60',
      '--max-body-size',
      '1kb',
      '--deny-path',
      '/admin',
      '--deny-path',
      '/ws',
      '--deny-ip',
      '127.0.0.5',
      ...scope,
    ]);
    expect(waf.code, waf.stderr).toBe(0);
    const from = (ip: string, p = '/', opts: Parameters<typeof requestFrom>[4] = {}) =>
      requestFrom(berth.httpPort, host, ip, p, opts);

    const burst = await Promise.all(Array.from({ length: 10 }, () => from('127.0.0.2')));
    expect(burst.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 429, 429, 429, 429, 429]);
    const limited = burst.filter((a) => a.status === 429);
    for (const a of limited) {
      expect(Number(a.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(a.headers['retry-after'])).toBeLessThanOrEqual(60);
      expect(a.body).toContain('this service allows 5 per 60 s per client');
    }
    for (let i = 0; i < 5; i++) expect(await from('127.0.0.3')).toMatchObject({ status: 200, body: 'v7' });

    expect((await from('127.0.0.5')).status).toBe(403);
    const denied = await from('127.0.0.4', '/admin/users');
    expect(denied.status).toBe(403);
    expect(denied.body).toContain('This path is not served.');
    expect((await from('127.0.0.4', '/admin')).status).toBe(403);
    // Prefixes end on a segment boundary.
    expect((await from('127.0.0.4', '/administrator')).status).toBe(200);
    // WebSocket upgrades are checked too.
    await expect(openTunnel(berth.httpPort, host)).rejects.toThrow(/no 101: HTTP\/1.1 403/);

    const big = Buffer.alloc(2048, 'x');
    const tooLarge = await from('127.0.0.6', '/', { body: big });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body).toContain('larger than this service accepts (1024 bytes)');
    expect((await from('127.0.0.6', '/', { body: big, chunked: true })).status).toBe(413);
    expect((await from('127.0.0.6', '/', { body: Buffer.alloc(100, 'y') })).status).toBe(200);
    expect((await from('127.0.0.6', '/', { body: Buffer.alloc(700, 'y'), chunked: true })).status).toBe(200);

    const cleared = await berth.cli(['waf', '--clear', ...scope]);
    expect(cleared.code, cleared.stderr).toBe(0);
    expect((await from('127.0.0.5')).status).toBe(200);
    expect((await from('127.0.0.4', '/admin/users')).status).not.toBe(403);
  });
});
