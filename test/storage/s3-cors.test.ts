/**
 * Bucket CORS on the real store process: the configuration API through the AWS SDK and awscli, browsers'
 * preflights and actual requests as raw HTTP (there is no browser here: undici sends what one would), and the
 * attacks on one bucket's rules from another.
 */
import {
  DeleteBucketCorsCommand,
  GetBucketCorsCommand,
  GetObjectCommand,
  PutBucketCorsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBucket, StoreHarness } from '../helpers/object-store.js';
import { needs } from '../helpers/optional-tools.js';
import { errorOf } from '../helpers/s3.js';

const app = makeBucket('cors-app-1a2b');
const other = makeBucket('cors-other-3c4d');
const bare = makeBucket('cors-bare-5e6f', true);
const store = new StoreHarness([app, other, bare]);
const client = (b = app) => store.client(b);

beforeAll(() => store.start());
afterAll(() => store.cleanup());

/** A raw request as a browser sends it: unsigned, with the headers given. */
async function raw(method: string, url: string, headers: Record<string, string>, body?: string) {
  const res = await request(url, { method, headers, body, reset: true });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

const preflight = (urlPath: string, origin: string, method: string, requestHeaders?: string) =>
  raw('OPTIONS', `${store.endpoint}${urlPath}`, {
    origin,
    'access-control-request-method': method,
    ...(requestHeaders ? { 'access-control-request-headers': requestHeaders } : {}),
  });

const putCors = (
  b: typeof app,
  rules: NonNullable<ConstructorParameters<typeof PutBucketCorsCommand>[0]['CORSConfiguration']>['CORSRules'],
) => client(b).send(new PutBucketCorsCommand({ Bucket: b.name, CORSConfiguration: { CORSRules: rules } }));

describe('the bucket CORS API (AWS SDK)', () => {
  it('GetBucketCors of a bucket without rules is NoSuchCORSConfiguration (404)', async () => {
    const e = await errorOf(client().send(new GetBucketCorsCommand({ Bucket: app.name })));
    expect(e.name).toBe('NoSuchCORSConfiguration');
    expect(e.$metadata.httpStatusCode).toBe(404);
  });

  it('PutBucketCors stores the rules in order; GetBucketCors reads them back; DeleteBucketCors removes them', async () => {
    const rules = [
      {
        ID: 'uploads',
        AllowedOrigins: ['https://app.example.com'],
        AllowedMethods: ['PUT', 'POST'],
        AllowedHeaders: ['content-type', 'x-amz-*'],
        ExposeHeaders: ['ETag'],
        MaxAgeSeconds: 3600,
      },
      { AllowedOrigins: ['*'], AllowedMethods: ['GET', 'HEAD'] },
    ];
    await putCors(app, structuredClone(rules));
    const got = await client().send(new GetBucketCorsCommand({ Bucket: app.name }));
    expect(got.CORSRules).toEqual(rules);
    await client().send(new DeleteBucketCorsCommand({ Bucket: app.name }));
    const gone = await errorOf(client().send(new GetBucketCorsCommand({ Bucket: app.name })));
    expect(gone.name).toBe('NoSuchCORSConfiguration');
  });

  it('bad configurations get S3’s error codes and leave the rules in force unchanged', async () => {
    await putCors(app, [{ AllowedOrigins: ['https://keep.example.com'], AllowedMethods: ['GET'] }]);
    const cases: Array<[string, Parameters<typeof putCors>[1], string]> = [
      ['InvalidRequest', [{ AllowedOrigins: ['https://a.example.com'], AllowedMethods: ['PATCH'] }], 'PATCH'],
      [
        'InvalidRequest',
        [{ AllowedOrigins: ['https://*.*.example.com'], AllowedMethods: ['GET'] }],
        'wildcard',
      ],
      [
        'InvalidRequest',
        [{ AllowedOrigins: ['*'], AllowedMethods: ['GET'], AllowedHeaders: ['x-*-*'] }],
        'wildcard',
      ],
      [
        'InvalidRequest',
        [{ AllowedOrigins: ['*'], AllowedMethods: ['GET'], ExposeHeaders: ['*'] }],
        'ExposeHeader',
      ],
      ['MalformedXML', [{ AllowedOrigins: ['*'], AllowedMethods: [] }], 'AllowedMethod'],
      ['MalformedXML', [], 'CORSRule'],
      [
        'MalformedXML',
        Array.from({ length: 101 }, () => ({ AllowedOrigins: ['*'], AllowedMethods: ['GET'] })),
        '100 rules',
      ],
      [
        'MalformedXML',
        [
          {
            AllowedOrigins: Array.from({ length: 1200 }, (_, i) => `https://host-${i}.example.com`),
            AllowedMethods: ['GET'],
          },
        ],
        '64 KB',
      ],
    ];
    for (const [code, rules, words] of cases) {
      const e = await errorOf(putCors(app, rules));
      expect(e.name, words).toBe(code);
      expect(e.message, code).toContain(words);
    }
    const kept = await client().send(new GetBucketCorsCommand({ Bucket: app.name }));
    expect(kept.CORSRules).toEqual([
      { AllowedOrigins: ['https://keep.example.com'], AllowedMethods: ['GET'] },
    ]);
  });
});

describe('preflights and actual requests (raw HTTP, as a browser sends them)', () => {
  const origin = 'https://app.example.com';

  it('a presigned PUT URL: the browser preflights it, then PUTs with its Origin, and reads the ETag', async () => {
    await putCors(app, [
      {
        AllowedOrigins: [origin],
        AllowedMethods: ['PUT'],
        AllowedHeaders: ['Content-Type'],
        ExposeHeaders: ['ETag'],
        MaxAgeSeconds: 600,
      },
    ]);
    const url = await getSignedUrl(
      client(),
      new PutObjectCommand({ Bucket: app.name, Key: 'avatars/me.png', ContentType: 'image/png' }),
      { expiresIn: 300 },
    );
    const target = new URL(url);
    const pre = await preflight(`${target.pathname}${target.search}`, origin, 'PUT', 'content-type');
    expect(pre.status).toBe(200);
    expect(pre.headers).toMatchObject({
      'access-control-allow-origin': origin,
      'access-control-allow-methods': 'PUT',
      'access-control-allow-headers': 'content-type',
      'access-control-expose-headers': 'ETag',
      'access-control-max-age': '600',
      'access-control-allow-credentials': 'true',
      vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
    });
    const put = await raw('PUT', url, { origin, 'content-type': 'image/png' }, 'PNG bytes');
    expect(put.status, put.body).toBe(200);
    expect(put.headers['access-control-allow-origin']).toBe(origin);
    expect(put.headers['access-control-expose-headers']).toBe('ETag');
    expect(put.headers.etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(String(put.headers.vary)).toContain('Origin');
    const got = await client().send(new GetObjectCommand({ Bucket: app.name, Key: 'avatars/me.png' }));
    expect(await got.Body?.transformToString()).toBe('PNG bytes');
  });

  it('a disallowed origin, method or header is refused with S3’s 403, and its PUT gets no CORS headers', async () => {
    for (const [o, m, h] of [
      ['https://evil.example.net', 'PUT', 'content-type'],
      [origin, 'DELETE', undefined],
      [origin, 'PUT', 'content-type, x-secret'],
    ] as const) {
      const pre = await preflight('/cors-app-1a2b/avatars/me.png', o, m, h);
      expect(pre.status, `${o} ${m} ${h}`).toBe(403);
      expect(pre.body).toContain('<Code>AccessForbidden</Code>');
      expect(pre.body).toContain('CORSResponse: This CORS request is not allowed');
      expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    }
    const url = await getSignedUrl(client(), new PutObjectCommand({ Bucket: app.name, Key: 'x.txt' }), {
      expiresIn: 300,
    });
    const put = await raw('PUT', url, { origin: 'https://evil.example.net' }, 'x');
    expect(put.headers['access-control-allow-origin']).toBeUndefined();
    expect(put.headers.vary).toBe('Origin');
  });

  it('an error answer carries the CORS headers too, so the page can read why', async () => {
    const url = await getSignedUrl(client(), new GetObjectCommand({ Bucket: app.name, Key: 'missing' }), {
      expiresIn: 300,
    });
    await putCors(app, [{ AllowedOrigins: [origin], AllowedMethods: ['GET'] }]);
    const get = await raw('GET', url, { origin });
    expect(get.status).toBe(404);
    expect(get.body).toContain('NoSuchKey');
    expect(get.headers['access-control-allow-origin']).toBe(origin);
  });

  it('rules are matched in order, the first match answers; `*` answers `*` without credentials', async () => {
    await putCors(app, [
      { AllowedOrigins: ['https://app.example.com'], AllowedMethods: ['GET'], MaxAgeSeconds: 10 },
      { AllowedOrigins: ['*'], AllowedMethods: ['GET', 'PUT'], MaxAgeSeconds: 20 },
    ]);
    const first = await preflight('/cors-app-1a2b/k', origin, 'GET');
    expect(first.headers).toMatchObject({
      'access-control-allow-origin': origin,
      'access-control-max-age': '10',
    });
    // The first rule lacks PUT: the second answers, for any origin.
    const second = await preflight('/cors-app-1a2b/k', origin, 'PUT');
    expect(second.headers).toMatchObject({
      'access-control-allow-origin': '*',
      'access-control-max-age': '20',
    });
    expect(second.headers['access-control-allow-credentials']).toBeUndefined();
    const anyone = await preflight('/cors-app-1a2b/k', 'https://anyone.test', 'GET');
    expect(anyone.headers['access-control-allow-origin']).toBe('*');
  });

  it('a wildcard origin `https://*.example.com` allows its subdomains only', async () => {
    await putCors(app, [
      { AllowedOrigins: ['https://*.example.com'], AllowedMethods: ['PUT'], AllowedHeaders: ['*'] },
    ]);
    const sub = await preflight(
      '/cors-app-1a2b/k',
      'https://a.b.example.com',
      'PUT',
      'content-type, x-amz-meta-a',
    );
    expect(sub.status).toBe(200);
    expect(sub.headers['access-control-allow-origin']).toBe('https://a.b.example.com');
    expect(sub.headers['access-control-allow-headers']).toBe('content-type, x-amz-meta-a');
    for (const o of ['https://example.com', 'http://a.example.com', 'https://a.example.com.evil.net']) {
      expect((await preflight('/cors-app-1a2b/k', o, 'PUT')).status, o).toBe(403);
    }
  });

  it('virtual-hosted-style and bucket URLs are preflighted the same way', async () => {
    await putCors(app, [{ AllowedOrigins: [origin], AllowedMethods: ['GET'] }]);
    for (const [host, p] of [
      [`${app.name}.s3.localhost`, '/some/key'],
      [`${app.name}.s3.localhost`, '/'],
      ['s3.localhost', `/${app.name}`],
    ]) {
      const pre = await raw('OPTIONS', `${store.endpoint}${p}`, {
        host,
        origin,
        'access-control-request-method': 'GET',
      });
      expect(pre.status, `${host}${p}`).toBe(200);
      expect(pre.headers['access-control-allow-origin']).toBe(origin);
    }
  });

  it('a bucket without CORS rules refuses every preflight; a preflight without its headers is a 400', async () => {
    const pre = await preflight(`/${bare.name}/k`, origin, 'GET');
    expect(pre.status).toBe(403);
    expect(pre.body).toContain('CORSResponse: CORS is not enabled for this bucket.');
    const noOrigin = await raw('OPTIONS', `${store.endpoint}/${app.name}/k`, {
      'access-control-request-method': 'GET',
    });
    expect(noOrigin.status).toBe(400);
    expect(noOrigin.body).toContain('Origin request header needed');
    const noMethod = await raw('OPTIONS', `${store.endpoint}/${app.name}/k`, { origin });
    expect(noMethod.status).toBe(400);
    expect(noMethod.body).toContain('Access-Control-Request-Method');
    expect((await preflight('/no-such-bucket/k', origin, 'GET')).status).toBe(404);
  });

  it('the rules survive a restart of the store', async () => {
    await putCors(app, [{ ID: 'kept', AllowedOrigins: [origin], AllowedMethods: ['PUT'] }]);
    await store.stop();
    await store.start();
    const pre = await preflight('/cors-app-1a2b/k', origin, 'PUT');
    expect(pre.status).toBe(200);
    const got = await client().send(new GetBucketCorsCommand({ Bucket: app.name }));
    expect(got.CORSRules?.[0]?.ID).toBe('kept');
  });
});

describe('attacks on one bucket’s CORS rules', () => {
  it('another bucket’s CORS rules never answer a preflight for this bucket', async () => {
    await putCors(other, [{ AllowedOrigins: ['https://evil.example.net'], AllowedMethods: ['PUT', 'GET'] }]);
    await putCors(app, [{ AllowedOrigins: ['https://app.example.com'], AllowedMethods: ['GET'] }]);
    const pre = await preflight(`/${app.name}/k`, 'https://evil.example.net', 'PUT');
    expect(pre.status).toBe(403);
    const virtual = await raw('OPTIONS', `${store.endpoint}/k`, {
      host: `${app.name}.s3.localhost`,
      origin: 'https://evil.example.net',
      'access-control-request-method': 'PUT',
    });
    expect(virtual.status).toBe(403);
    // Nor an actual request: the evil origin gets no Access-Control-Allow-Origin from this bucket.
    const url = await getSignedUrl(
      client(),
      new GetObjectCommand({ Bucket: app.name, Key: 'avatars/me.png' }),
      {
        expiresIn: 300,
      },
    );
    const get = await raw('GET', url, { origin: 'https://evil.example.net' });
    expect(get.status).toBe(200);
    expect(get.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('PutBucketCors with another bucket’s keys is refused, and so are Get/Delete and unsigned ones', async () => {
    const foreign = client(other);
    const put = await errorOf(
      foreign.send(
        new PutBucketCorsCommand({
          Bucket: app.name,
          CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['*'], AllowedMethods: ['PUT'] }] },
        }),
      ),
    );
    expect(put.name).toBe('AccessDenied');
    expect((await errorOf(foreign.send(new GetBucketCorsCommand({ Bucket: app.name })))).name).toBe(
      'AccessDenied',
    );
    expect((await errorOf(foreign.send(new DeleteBucketCorsCommand({ Bucket: app.name })))).name).toBe(
      'AccessDenied',
    );
    const unsigned = await raw(
      'PUT',
      `${store.endpoint}/${app.name}?cors`,
      { 'content-type': 'application/xml' },
      '<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PUT</AllowedMethod></CORSRule></CORSConfiguration>',
    );
    expect(unsigned.status).toBe(403);
    // A public bucket is no exception: its rules are its owner's too.
    const publicUnsigned = await raw('GET', `${store.endpoint}/${bare.name}?cors`, {});
    expect(publicUnsigned.status).toBe(403);
    const kept = await client().send(new GetBucketCorsCommand({ Bucket: app.name }));
    expect(kept.CORSRules).toEqual([
      { AllowedOrigins: ['https://app.example.com'], AllowedMethods: ['GET'] },
    ]);
  });

  it('a preflight is never an operation: an OPTIONS with a body and signature-looking query writes nothing', async () => {
    await putCors(app, [{ AllowedOrigins: ['*'], AllowedMethods: ['PUT'] }]);
    const pre = await raw(
      'OPTIONS',
      `${store.endpoint}/${app.name}/planted.txt?x-id=PutObject`,
      { origin: 'https://x.test', 'access-control-request-method': 'PUT', 'content-type': 'text/plain' },
      'planted',
    );
    expect(pre.status).toBe(200);
    const e = await errorOf(client().send(new GetObjectCommand({ Bucket: app.name, Key: 'planted.txt' })));
    expect(e.name).toBe('NoSuchKey');
  });
});

const awscli = needs('awscli', 'awscli (Debian /usr/bin/aws) puts, gets and deletes a bucket’s CORS rules');
describe.skipIf(awscli.skip)(awscli.title, () => {
  const aws = (...args: string[]) => store.awsCli(app)(...args);

  it('put-bucket-cors, get-bucket-cors and delete-bucket-cors', async () => {
    const config = {
      CORSRules: [
        {
          ID: 'browser-uploads',
          AllowedOrigins: ['https://app.example.com'],
          AllowedMethods: ['PUT', 'GET'],
          AllowedHeaders: ['*'],
          ExposeHeaders: ['ETag', 'x-amz-request-id'],
          MaxAgeSeconds: 3000,
        },
      ],
    };
    await aws(
      's3api',
      'put-bucket-cors',
      '--bucket',
      app.name,
      '--cors-configuration',
      JSON.stringify(config),
    );
    const got = await aws('s3api', 'get-bucket-cors', '--bucket', app.name);
    expect(JSON.parse(got.stdout)).toEqual(config);
    const pre = await preflight(`/${app.name}/f`, 'https://app.example.com', 'PUT', 'content-type');
    expect(pre.headers['access-control-expose-headers']).toBe('ETag, x-amz-request-id');
    await aws('s3api', 'delete-bucket-cors', '--bucket', app.name);
    const gone = await aws('s3api', 'get-bucket-cors', '--bucket', app.name).then(
      () => 'ok',
      (err: { stderr?: string }) => err.stderr ?? '',
    );
    expect(gone).toContain('NoSuchCORSConfiguration');
    expect((await preflight(`/${app.name}/f`, 'https://app.example.com', 'PUT')).status).toBe(403);
  });
});
