import { describe, expect, it } from 'vitest';
import { ResponseCache, sharedFreshness } from '../../src/edge/cache.js';

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

  it('does not keep bodies over 1 MB', () => {
    const c = new ResponseCache();
    c.set('big', entry('d', 'y'.repeat(1024 * 1024 + 1)));
    expect(c.size).toBe(0);
  });
});
