import { GetBucketCorsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BucketCors, BucketCredentials, BucketView } from '../../src/api/contract/index.js';
import { findHaproxy } from '../../src/edge/haproxy/driver.js';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness } from '../helpers/berth.js';
import { type BucketKeys, s3Client } from '../helpers/s3.js';

const drivers = findHaproxy() === null ? (['builtin'] as const) : (['builtin', 'haproxy'] as const);

/**
 * Bucket CORS through bin/berth, a real server and each edge: `berth bucket cors set|show|clear`, and a
 * browser's presigned upload (preflight, then PUT with its Origin) reaching the store through the edge with
 * OPTIONS and every CORS header intact, path-style and virtual-hosted-style.
 */
describe.each(drivers)('bucket CORS: %s edge', (kind) => {
  const berth = new BerthHarness();
  const p = ['-p', 'cors'];
  const app = 'https://app.example.com';
  const clients: S3Client[] = [];
  const json = async <T>(args: string[]): Promise<T> => {
    const r = await berth.cli([...args, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    return JSON.parse(r.stdout) as T;
  };
  const keysOf = async (name: string): Promise<BucketKeys> =>
    json<BucketCredentials>(['bucket', 'credentials', name, ...p]);
  const client = (keys: BucketKeys, virtualHosted = false) => {
    const c = s3Client(keys, { virtualHosted });
    clients.push(c);
    return c;
  };
  /** A request as a browser sends it, to the edge, for the host of `url`. */
  const browser = async (method: string, url: string, headers: Record<string, string>, body?: string) => {
    const u = new URL(url);
    const res = await request(`http://127.0.0.1:${berth.httpPort}${u.pathname}${u.search}`, {
      method,
      headers: { host: u.host, ...headers },
      body,
      reset: true,
    });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  };
  const preflight = (url: string, origin: string, method: string, requestHeaders?: string) =>
    browser('OPTIONS', url, {
      origin,
      'access-control-request-method': method,
      ...(requestHeaders ? { 'access-control-request-headers': requestHeaders } : {}),
    });

  beforeAll(async () => {
    berth.serverArgs = ['--edge', kind];
    await berth.start();
    const project = await berth.cli(['init', '--name', 'cors']);
    expect(project.code, project.stdout + project.stderr).toBe(0);
    await json<BucketView>(['bucket', 'create', 'uploads', ...p]);
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await berth.stop();
  });

  it('berth bucket cors set writes S3 CORS rules that the AWS SDK reads back; show lists them', async () => {
    const none = await json<BucketCors>(['bucket', 'cors', 'show', '-s', 'uploads', ...p]);
    expect(none.rules).toEqual([]);
    const set = await json<BucketCors>([
      'bucket',
      'cors',
      'set',
      '--origin',
      app,
      '--origin',
      'https://*.example.org',
      '--method',
      'put',
      '--method',
      'GET',
      '--max-age',
      '3600',
      '-s',
      'uploads',
      ...p,
    ]);
    expect(set.rules).toEqual([
      {
        id: 'berth',
        allowedOrigins: [app, 'https://*.example.org'],
        allowedMethods: ['PUT', 'GET'],
        allowedHeaders: ['*'],
        exposeHeaders: ['ETag'],
        maxAgeSeconds: 3600,
      },
    ]);
    const keys = await keysOf('uploads');
    const seen = await client(keys).send(new GetBucketCorsCommand({ Bucket: keys.bucket }));
    expect(seen.CORSRules?.[0]).toMatchObject({
      AllowedOrigins: [app, 'https://*.example.org'],
      MaxAgeSeconds: 3600,
    });
    const shown = await berth.cli(['bucket', 'cors', 'show', 'uploads', ...p]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('https://*.example.org');
    expect(shown.stdout).toContain('3600s');
  });

  it('a presigned PUT through the edge: the preflight and the upload carry the CORS headers, both addressings', async () => {
    const keys = await keysOf('uploads');
    for (const virtualHosted of [false, true]) {
      const Key = `avatars/${virtualHosted ? 'vh' : 'path'}.png`;
      const url = await getSignedUrl(
        client(keys, virtualHosted),
        new PutObjectCommand({ Bucket: keys.bucket, Key, ContentType: 'image/png' }),
        { expiresIn: 300 },
      );
      expect(new URL(url).host.startsWith(keys.bucket)).toBe(virtualHosted);
      const pre = await preflight(url, app, 'PUT', 'content-type');
      expect(pre.status, pre.body).toBe(200);
      expect(pre.headers).toMatchObject({
        'access-control-allow-origin': app,
        'access-control-allow-methods': 'PUT, GET',
        'access-control-allow-headers': 'content-type',
        'access-control-allow-credentials': 'true',
        'access-control-expose-headers': 'ETag',
        'access-control-max-age': '3600',
        vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
      });
      const put = await browser('PUT', url, { origin: app, 'content-type': 'image/png' }, 'png');
      expect(put.status, put.body).toBe(200);
      expect(put.headers['access-control-allow-origin']).toBe(app);
      expect(put.headers['access-control-expose-headers']).toBe('ETag');
      expect(put.headers.etag).toMatch(/^"[0-9a-f]{32}"$/);
    }
    // A subdomain matches the wildcard origin; anything else is S3's 403, through the edge unchanged.
    const url = `http://${keys.bucket}.${new URL(keys.endpoint).host}/avatars/x.png`;
    expect(
      (await preflight(url, 'https://a.example.org', 'GET')).headers['access-control-allow-origin'],
    ).toBe('https://a.example.org');
    const evil = await preflight(url, 'https://evil.example.net', 'PUT', 'content-type');
    expect(evil.status).toBe(403);
    expect(evil.body).toContain('CORSResponse: This CORS request is not allowed');
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('bad input is one sentence and a non-zero exit, and leaves the rules as they were', async () => {
    const cases: [string[], string][] = [
      [
        ['bucket', 'cors', 'set', '--origin', 'https://app.example.com/', '-s', 'uploads', ...p],
        'is not an origin',
      ],
      [
        ['bucket', 'cors', 'set', '--origin', 'https://*.*.example.com', '-s', 'uploads', ...p],
        'more than one *',
      ],
      [
        ['bucket', 'cors', 'set', '--origin', app, '--method', 'PATCH', '-s', 'uploads', ...p],
        'is not one of',
      ],
      [['bucket', 'cors', 'set', '-s', 'uploads', ...p], '--origin'],
      [['bucket', 'cors', 'show', ...p], 'Name the bucket'],
      [['bucket', 'cors', 'show', '-s', 'missing', ...p], 'Service "missing" does not exist'],
    ];
    for (const [args, sentence] of cases) {
      const r = await berth.cli(args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toContain(sentence);
    }
    const kept = await json<BucketCors>(['bucket', 'cors', 'show', 'uploads', ...p]);
    expect(kept.rules[0].allowedOrigins).toEqual([app, 'https://*.example.org']);
  });

  it('a public bucket’s cached object still answers each origin its own CORS headers through the edge cache', async () => {
    const b = await json<BucketView>(['bucket', 'create', 'assets', '--public', ...p]);
    await json<BucketCors>(['bucket', 'cors', 'set', 'assets', '--origin', app, '--method', 'GET', ...p]);
    const keys = await keysOf('assets');
    await client(keys).send(
      new PutObjectCommand({
        Bucket: keys.bucket,
        Key: 'font.woff2',
        Body: 'font',
        CacheControl: 'public, max-age=300',
      }),
    );
    const url = `${b.publicUrl}/font.woff2`;
    // Asked without an Origin first (a cache would keep that answer), then by the page.
    for (let i = 0; i < 3; i++) expect((await browser('GET', url, {})).status).toBe(200);
    const page = await browser('GET', url, { origin: app });
    expect(page.body).toBe('font');
    expect(page.headers['access-control-allow-origin']).toBe(app);
    const other = await browser('GET', url, { origin: 'https://other.test' });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    expect(String(other.headers.vary)).toContain('Origin');
    const pre = await preflight(url, app, 'GET');
    expect(pre.status).toBe(200);
  });

  it('another bucket’s CORS rules never answer a preflight for this bucket, through the edge', async () => {
    const keys = await keysOf('uploads');
    await json<BucketCors>([
      'bucket',
      'cors',
      'set',
      'assets',
      '--origin',
      'https://evil.example.net',
      '--method',
      'PUT',
      ...p,
    ]);
    const url = `http://${keys.bucket}.${new URL(keys.endpoint).host}/avatars/x.png`;
    expect((await preflight(url, 'https://evil.example.net', 'PUT')).status).toBe(403);
    expect(
      (await preflight(`${keys.endpoint}/${keys.bucket}/x`, 'https://evil.example.net', 'PUT')).status,
    ).toBe(403);
  });

  it('berth bucket cors clear: preflights are refused again; the rules are kept across a server restart', async () => {
    const cleared = await json<BucketCors>(['bucket', 'cors', 'clear', '-s', 'uploads', ...p]);
    expect(cleared.rules).toEqual([]);
    const keys = await keysOf('uploads');
    const url = `${keys.endpoint}/${keys.bucket}/avatars/path.png`;
    const refused = await preflight(url, app, 'PUT');
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('CORS is not enabled for this bucket');
    // The rules are the store's, kept across a restart of the server (the store process is adopted).
    await berth.stopDaemon();
    await berth.startDaemon();
    await waitFor(
      'the store to answer through the edge',
      async () => (await preflight(url, app, 'PUT').catch(() => null))?.status === 403,
      { timeoutMs: 30_000 },
    );
    const shown = await json<BucketCors>(['bucket', 'cors', 'show', 'assets', ...p]);
    expect(shown.rules[0].allowedOrigins).toEqual(['https://evil.example.net']);
    expect((await json<BucketCors>(['bucket', 'cors', 'show', 'uploads', ...p])).rules).toEqual([]);
  });
});
