import { describe, expect, it } from 'vitest';
import {
  cachedAnswer,
  hitHeaders,
  ResponseCache,
  type StoredResponse,
  sharedFreshness,
  upstreamAge,
} from '../../src/edge/cache.js';

describe('sharedFreshness', () => {
  it.each([
    [200, ['Cache-Control', 'public, max-age=60'], 60],
    [200, ['cache-control', 's-maxage=30, max-age=5'], 30],
    [200, ['Cache-Control', 'public', 'Cache-Control', 'max-age=10'], 10],
    [200, ['Cache-Control', 'public, max-age=60', 'Vary', 'Accept-Encoding'], 60],
    [200, ['Cache-Control', 'max-age=60'], null], // browser-only unless public or s-maxage
    [200, ['Cache-Control', 'public, max-age=60, private'], null],
    [200, ['Cache-Control', 'public, no-store, max-age=60'], null],
    [200, ['Cache-Control', 'public, max-age=0'], null],
    [200, ['Cache-Control', 'public, max-age=60', 'Set-Cookie', 'a=1'], null],
    [200, ['Cache-Control', 'public, max-age=60', 'Vary', 'Cookie'], null],
    [404, ['Cache-Control', 'public, max-age=60'], null],
    [200, [], null],
  ])('status %i with %j → %s', (status, headers, ttl) => {
    expect(sharedFreshness(status, headers)).toBe(ttl);
  });
});

describe('ResponseCache', () => {
  const entry = (deploymentId: string, body = 'x', expiresAt = 10_000) => ({
    status: 200,
    reason: 'OK',
    headers: [],
    body: Buffer.from(body),
    etag: null,
    storedAt: 0,
    initialAge: 0,
    expiresAt,
    deploymentId,
  });

  it('expires entries and drops those of deployments no longer routed', () => {
    const c = new ResponseCache();
    c.set('a', entry('d1'));
    c.set('b', entry('d2'));
    expect(c.get('a', 1)).not.toBeNull();
    expect(c.get('a', 10_000)).toBeNull();
    c.keepOnly(new Set(['d1']));
    expect(c.get('b', 1)).toBeNull();
    expect(c.size).toBe(0);
  });

  it('serves hits with the stored headers plus Age and X-Cache', () => {
    const c = new ResponseCache();
    c.set('a', { ...entry('d1'), headers: ['content-type', 'text/plain'], storedAt: 1000 });
    const e = c.get('a', 4500);
    expect(e && hitHeaders(e, 4500)).toEqual(['content-type', 'text/plain', 'age', '3', 'x-cache', 'HIT']);
    expect(e && hitHeaders(e, 9999)).toEqual(['content-type', 'text/plain', 'age', '8', 'x-cache', 'HIT']);
  });

  it("counts the upstream's Age in a hit's single Age field", () => {
    const c = new ResponseCache();
    const headers = ['content-type', 'text/plain', 'Age', '100'];
    c.set('a', { ...entry('d1'), headers, storedAt: 1000, initialAge: upstreamAge(headers) });
    const e = c.get('a', 4500);
    expect(e && hitHeaders(e, 4500)).toEqual(['content-type', 'text/plain', 'age', '103', 'x-cache', 'HIT']);
  });

  it('reads the first member of an Age value and ignores one that is not a number of seconds', () => {
    expect(upstreamAge(['age', '7'])).toBe(7);
    expect(upstreamAge(['AGE', ' 12 , 40'])).toBe(12);
    expect(upstreamAge(['age', '-3'])).toBe(0);
    expect(upstreamAge(['age', '1.5'])).toBe(0);
    expect(upstreamAge(['content-type', 'text/plain'])).toBe(0);
  });

  it('evicts the least recently used entries when full', () => {
    const c = new ResponseCache();
    const mb = Buffer.alloc(1024 * 1024); // shared: only its length counts
    const put = (k: string, t: number) => c.set(k, { ...entry('d'), body: mb, storedAt: t });
    put('k0', 0);
    put('k1', 1);
    for (let i = 2; i < 64; i++) put(`k${i}`, i);
    expect(c.get('k0', 100)).not.toBeNull(); // k0 is now more recent than k1
    put('k64', 101); // 65 MB: over the 64 MB limit
    expect(c.get('k1', 102)).toBeNull();
    expect(c.get('k0', 102)).not.toBeNull();
    expect(c.get('k64', 102)).not.toBeNull();
    expect(c.size).toBeLessThanOrEqual(56);
  });

  it('does not keep bodies over 1 MB', () => {
    const c = new ResponseCache();
    c.set('big', entry('d', 'y'.repeat(1024 * 1024 + 1)));
    expect(c.size).toBe(0);
  });
});

describe('cachedAnswer', () => {
  const cache = new ResponseCache();
  cache.set('k', {
    status: 200,
    reason: 'OK',
    headers: ['Cache-Control', 'public, max-age=60', 'ETag', '"v1"'],
    body: Buffer.from('hello'),
    etag: '"v1"',
    storedAt: Date.now(),
    initialAge: 0,
    expiresAt: Date.now() + 60_000,
    deploymentId: 'd1',
  });
  const stored = cache.get('k', Date.now()) as StoredResponse;

  it('answers 304 without a body when the client holds this version', () => {
    const a = cachedAnswer(stored, 'GET', '"v0", "v1"');
    expect(a).toMatchObject({ status: 304, reason: '', body: null });
    expect(a.headers.slice(0, 2)).toEqual(['etag', '"v1"']);
    expect(a.headers).toContain('x-cache');
  });

  it('answers the entry otherwise, without its body for HEAD', () => {
    const get = cachedAnswer(stored, 'GET', '"v0"');
    expect(get).toMatchObject({ status: 200, reason: 'OK' });
    expect(get.body?.toString()).toBe('hello');
    expect(cachedAnswer(stored, 'HEAD', null).body).toBeNull();
  });
});
