import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findHaproxy } from '../../src/edge/haproxy/driver.js';
import { BerthHarness } from '../helpers/berth.js';

/** The edge cache on auto's driver: shareable responses served without the app, purged by a deploy. */
describe('edge cache', () => {
  const berth = new BerthHarness();
  const web = ['-p', 'cache', '-s', 'web'];
  const get = async (p: string, headers: Record<string, string> = {}) => {
    const res = await request(`http://127.0.0.1:${berth.httpPort}${p}`, {
      headers: { host: 'web-cache.localhost', ...headers },
    });
    return { status: res.statusCode, body: await res.body.text(), headers: res.headers };
  };

  beforeAll(async () => {
    await berth.start();
    const up = await berth.cli(['up', berth.app('lifecycle', 'web'), ...web]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    // auto: HAProxy when installed.
    expect(berth.serverLog()).toContain(`(${findHaproxy() === null ? 'builtin' : 'haproxy'} edge)`);
  });
  afterAll(() => berth.stop());

  it('serves a public response again without the app, with Age and X-Cache, and 304 for its ETag', async () => {
    const first = await get('/cached');
    expect(first).toMatchObject({ status: 200, body: 'cached 1 v1' });
    expect(first.headers['x-cache']).toBeUndefined();
    const second = await get('/cached');
    expect(second).toMatchObject({ status: 200, body: 'cached 1 v1' });
    expect(second.headers['x-cache']).toBe('HIT');
    expect(Number(second.headers.age)).toBeGreaterThanOrEqual(0);
    const notModified = await get('/cached', { 'if-none-match': '"v1"' });
    expect(notModified.status).toBe(304);
    expect((await get('/cached?other=1')).body).toBe('cached 2 v1'); // another URL is another entry
  });

  it('leaves private responses, authorized and no-cache requests to the app', async () => {
    expect((await get('/private')).body).toMatch(/^private \d+ v1$/);
    const again = await get('/private');
    expect(again.headers['x-cache']).toBeUndefined();
    const authorized = await get('/cached', { authorization: 'Bearer x' });
    expect(authorized.headers['x-cache']).toBeUndefined();
    const reload = await get('/cached', { 'cache-control': 'no-cache' });
    expect(reload.headers['x-cache']).toBeUndefined();
    // The reload refreshed the entry: the next hit carries what the app answered then.
    const refreshed = await get('/cached');
    expect(refreshed.headers['x-cache']).toBe('HIT');
    expect(refreshed.body).toBe(reload.body);
  });

  it('purges on deploy: the new deployment answers the next request', async () => {
    const r = await berth.cli(['variables', 'set', 'VERSION=v2', ...web]);
    expect(r.code, r.stderr).toBe(0);
    const [latest] = await berth.settledDeployments(web);
    expect(latest.status).toBe('SUCCESS');
    const after = await get('/cached');
    expect(after).toMatchObject({ status: 200, body: 'cached 1 v2' });
    expect(after.headers['x-cache']).toBeUndefined();
  });
});
