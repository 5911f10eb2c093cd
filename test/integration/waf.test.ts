import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findHaproxy } from '../../src/edge/haproxy/driver.js';
import { BerthHarness } from '../helpers/berth.js';
import { type Answer, requestFrom } from '../helpers/client.js';

/** `[edge]` in railway.toml and `berth waf`: 429s under a burst, 403/413, other clients unaffected. */
describe('edge policy (rate limits and WAF basics)', () => {
  const berth = new BerthHarness();
  const web = ['-p', 'waf', '-s', 'web'];
  const host = 'web-waf.localhost';
  const get = (from: string, p = '/') => requestFrom(berth.httpPort, host, from, p);

  beforeAll(async () => {
    await berth.start();
    const dir = berth.app('lifecycle', 'web');
    fs.appendFileSync(
      path.join(dir, 'railway.toml'),
      '\n[edge]\nrateLimit = 5\nrateLimitWindowSeconds = 60\nmaxBodySize = "1kb"\ndenyPaths = ["/admin"]\n',
    );
    const up = await berth.cli(['up', dir, ...web]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    // auto: HAProxy when installed.
    expect(berth.serverLog()).toContain(`(${findHaproxy() === null ? 'builtin' : 'haproxy'} edge)`);
  });
  afterAll(() => berth.stop());

  it('answers 429 with Retry-After past the limit while another client is unaffected', async () => {
    const burst = await Promise.all(Array.from({ length: 10 }, () => get('127.0.0.2')));
    const statuses = burst.map((a) => a.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429, 429, 429]);
    const limited = burst.find((a) => a.status === 429) as Answer;
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(limited.body).toContain('this service allows 5 per 60 s per client');
    for (let i = 0; i < 5; i++) expect(await get('127.0.0.3')).toMatchObject({ status: 200, body: 'v1' });
  });

  it('refuses denied paths and bodies over the limit, declared or chunked', async () => {
    expect((await get('127.0.0.4', '/admin/users')).status).toBe(403);
    const big = Buffer.alloc(2048, 'x');
    expect((await requestFrom(berth.httpPort, host, '127.0.0.4', '/', { body: big })).status).toBe(413);
    expect(
      (await requestFrom(berth.httpPort, host, '127.0.0.4', '/', { body: big, chunked: true })).status,
    ).toBe(413);
    const small = await requestFrom(berth.httpPort, host, '127.0.0.4', '/', { body: Buffer.alloc(100, 'y') });
    expect(small.status).toBe(200);
  });

  it('berth waf changes the policy at once; railway.toml keys win and the table says so', async () => {
    const r = await berth.cli(['waf', '--deny-ip', '127.0.0.5', '--rate-limit', '1000', ...web]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/rate limit\s+5 per 60 s per IP\s+file/);
    expect(r.stdout).toMatch(/denied IPs\s+127\.0\.0\.5\s+api/);
    expect((await get('127.0.0.5')).status).toBe(403);
    expect((await get('127.0.0.6')).status).toBe(200);

    const bad = await berth.cli(['waf', '--deny-ip', '300.1.1.1', ...web]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('denyIps[0] must be an IP address or CIDR range');

    const cleared = await berth.cli(['waf', '--clear', '--json', ...web]);
    expect(JSON.parse(cleared.stdout).policy.denyIps).toEqual([]);
    expect((await get('127.0.0.5')).status).toBe(200);
  });
});
