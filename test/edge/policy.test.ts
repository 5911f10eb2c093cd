import { describe, expect, it } from 'vitest';
import { CompiledPolicy, compilePolicy, normalizedPath } from '../../src/edge/policy.js';

describe('edge policy', () => {
  it('denies and allows by address and CIDR, IPv4 and IPv6', () => {
    const p = new CompiledPolicy({ allowIps: ['10.0.0.0/8', '2001:db8::/32'], denyIps: ['10.1.2.3'] });
    expect(p.check('10.9.9.9', '/', 0).ok).toBe(true);
    expect(p.check('2001:db8::1', '/', 0).ok).toBe(true);
    expect(p.check('10.1.2.3', '/', 0)).toMatchObject({ ok: false, status: 403 });
    expect(p.check('192.0.2.1', '/', 0)).toMatchObject({
      ok: false,
      status: 403,
      reason: 'This service only accepts requests from allowed addresses.',
    });
    expect(p.check('::ffff:10.9.9.9', '/', 0).ok).toBe(true);
  });

  it('denies path prefixes on segment boundaries, ignoring the query', () => {
    const p = new CompiledPolicy({ denyPaths: ['/admin', '/.env'] });
    expect(p.check('1.1.1.1', '/admin', 0)).toMatchObject({ status: 403 });
    expect(p.check('1.1.1.1', '/admin/users?x=1', 0)).toMatchObject({ status: 403 });
    expect(p.check('1.1.1.1', '/.env', 0)).toMatchObject({ status: 403 });
    expect(p.check('1.1.1.1', '/administrator', 0).ok).toBe(true);
    expect(p.check('1.1.1.1', '/?next=/admin', 0).ok).toBe(true);
  });

  it('matches denied paths on the path as apps read it', () => {
    const cases: Array<[string, string]> = [
      ['/admin', '/admin'],
      ['/%61dmin', '/admin'],
      ['//admin', '/admin'],
      ['/./admin', '/admin'],
      ['/x/../admin', '/admin'],
      ['/x/..%2Fadmin', '/admin'],
      ['/admin%2fx', '/admin/x'],
      ['/a\\..\\admin', '/admin'],
      ['/..;/admin', '/admin'],
      ['/%2561dmin', '/%61dmin'],
      ['/admin/.', '/admin/'],
      ['/admin/..', '/'],
      ['/Style.CSS?x=/admin', '/style.css'],
      ['/admin#x', '/admin'],
      ['http://h:80/ADMIN?x', '/admin'],
      ['http://h', '/'],
      // Apps read a backslash as a slash, so it ends the authority too (llhttp refuses it today).
      ['http://h\\admin', '/admin'],
      ['*', '/*'],
    ];
    for (const [target, path] of cases) expect(normalizedPath(target), target).toBe(path);
    const p = new CompiledPolicy({ denyPaths: ['/Admin', '/café/'] });
    expect(p.check('1.1.1.1', '/%41DMIN/x', 0)).toMatchObject({ status: 403 });
    expect(p.check('1.1.1.1', '/caf%C3%A9/menu', 0)).toMatchObject({ status: 403 });
    expect(p.check('1.1.1.1', '/caf%C3%A9', 0).ok).toBe(true);
  });

  it('refuses a declared body over the limit', () => {
    const p = new CompiledPolicy({ maxBodySize: 1024 });
    expect(p.check('1.1.1.1', '/', 1024).ok).toBe(true);
    expect(p.check('1.1.1.1', '/', 1025)).toMatchObject({ ok: false, status: 413 });
  });

  it('rate-limits per client in fixed windows and says when to retry', () => {
    const p = new CompiledPolicy({ rateLimit: 3, rateLimitWindowSeconds: 10 });
    const t0 = 1_000_000;
    for (let i = 0; i < 3; i++) expect(p.check('1.1.1.1', '/', 0, t0 + i).ok).toBe(true);
    expect(p.check('1.1.1.1', '/', 0, t0 + 4_000)).toMatchObject({
      ok: false,
      status: 429,
      retryAfterSeconds: 6,
    });
    expect(p.check('2.2.2.2', '/', 0, t0 + 4_000).ok).toBe(true); // another client is unaffected
    expect(p.check('1.1.1.1', '/', 0, t0 + 10_000).ok).toBe(true); // a new window
  });

  it('compiles an empty policy to nothing and keeps counters across an unchanged table', () => {
    expect(compilePolicy(undefined, null)).toBeNull();
    expect(compilePolicy({ rateLimit: null, allowIps: [], denyIps: [], denyPaths: [] }, null)).toBeNull();
    const first = compilePolicy({ rateLimit: 1 }, null) as CompiledPolicy;
    expect(first.check('1.1.1.1', '/', 0).ok).toBe(true);
    const again = compilePolicy({ rateLimit: 1 }, first);
    expect(again).toBe(first);
    expect(again?.check('1.1.1.1', '/', 0).ok).toBe(false);
    expect(compilePolicy({ rateLimit: 2 }, first)).not.toBe(first);
  });
});
