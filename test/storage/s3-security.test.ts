import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBucket, StoreHarness } from '../helpers/object-store.js';
import { errorOf } from '../helpers/s3.js';

const priv = makeBucket('private-0a1b2c');
const pub = makeBucket('public-3d4e5f', true);
const store = new StoreHarness([priv, pub], { publicHosts: { 'site.example.test': pub.name } });

beforeAll(() => store.start());
afterAll(() => store.cleanup());

/** A raw request (no client normalising the path), with an optional Host header. */
function raw(
  method: string,
  urlPath: string,
  host?: string,
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: store.port, method, path: urlPath, headers: host ? { host } : {} },
      (res) => {
        let data = '';
        res.on('data', (c) => {
          data += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function siteGet(
  urlPath: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: store.port,
        path: urlPath,
        headers: { host: 'site.example.test', ...headers },
      },
      (res) => {
        let data = '';
        res.on('data', (c) => {
          data += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('signatures', () => {
  it('forged signature: a wrong secret is refused with SignatureDoesNotMatch', async () => {
    const forged = store.client({ accessKeyId: priv.accessKeyId, secretAccessKey: 'not-the-secret' });
    const e = await errorOf(forged.send(new PutObjectCommand({ Bucket: priv.name, Key: 'x', Body: 'x' })));
    expect(e.name).toBe('SignatureDoesNotMatch');
    expect(e.$metadata.httpStatusCode).toBe(403);
  });

  it('an unknown access key is refused with InvalidAccessKeyId', async () => {
    const stranger = store.client({ accessKeyId: 'AKIAUNKNOWN', secretAccessKey: 'whatever' });
    const e = await errorOf(stranger.send(new ListObjectsV2Command({ Bucket: priv.name })));
    expect(e.name).toBe('InvalidAccessKeyId');
  });

  it("another bucket's keys: the public bucket's key pair cannot touch the private bucket", async () => {
    const other = store.client(pub);
    for (const attempt of [
      () => other.send(new ListObjectsV2Command({ Bucket: priv.name })),
      () => other.send(new PutObjectCommand({ Bucket: priv.name, Key: 'x', Body: 'x' })),
      () => other.send(new GetObjectCommand({ Bucket: priv.name, Key: 'x' })),
    ]) {
      const e = await errorOf(attempt());
      expect(e.name).toBe('AccessDenied');
      expect(e.$metadata.httpStatusCode).toBe(403);
    }
  });

  it('clock skew: a request signed 20 minutes off is refused with RequestTimeTooSkewed', async () => {
    // One attempt: the SDK would correct its clock from the refusal and retry.
    const skewed = store.client(priv, { maxAttempts: 1, systemClockOffset: -20 * 60_000 });
    const e = await errorOf(skewed.send(new ListObjectsV2Command({ Bucket: priv.name })));
    expect(e.name).toBe('RequestTimeTooSkewed');
  });
});

describe('presigned URLs (s3-request-presigner + plain fetch)', () => {
  it('a presigned PUT uploads and a presigned GET downloads', async () => {
    const s3 = store.client(priv);
    const putUrl = await getSignedUrl(
      s3,
      new PutObjectCommand({ Bucket: priv.name, Key: 'pre/signed.txt' }),
      {
        expiresIn: 60,
      },
    );
    const put = await fetch(putUrl, { method: 'PUT', body: 'presigned body' });
    expect(put.status).toBe(200);
    const getUrl = await getSignedUrl(
      s3,
      new GetObjectCommand({ Bucket: priv.name, Key: 'pre/signed.txt' }),
      {
        expiresIn: 60,
      },
    );
    const get = await fetch(getUrl);
    expect(get.status).toBe(200);
    expect(await get.text()).toBe('presigned body');
  });

  it('expired presigned URL: refused with AccessDenied', async () => {
    const url = await getSignedUrl(
      store.client(priv),
      new GetObjectCommand({ Bucket: priv.name, Key: 'pre/signed.txt' }),
      {
        expiresIn: 60,
        signingDate: new Date(Date.now() - 120_000),
      },
    );
    const r = await fetch(url);
    expect(r.status).toBe(403);
    const body = await r.text();
    expect(body).toContain('<Code>AccessDenied</Code>');
    expect(body).toContain('Request has expired');
  });

  it('tampered presigned URL: another key under the same signature is refused', async () => {
    const url = await getSignedUrl(
      store.client(priv),
      new GetObjectCommand({ Bucket: priv.name, Key: 'pre/signed.txt' }),
      {
        expiresIn: 60,
      },
    );
    const r = await fetch(url.replace('pre/signed.txt', 'pre/other.txt'));
    expect(r.status).toBe(403);
    expect(await r.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
  });

  it('presigned URL without a signed Host: refused with AccessDenied, so it cannot be replayed on another host', async () => {
    await store
      .client(priv)
      .send(new PutObjectCommand({ Bucket: priv.name, Key: 'pre/hostless.txt', Body: 'hostless' }));
    const url = await getSignedUrl(
      store.client(priv),
      new GetObjectCommand({ Bucket: priv.name, Key: 'pre/hostless.txt' }),
      { expiresIn: 60, unsignableHeaders: new Set(['host']) },
    );
    expect(new URL(url).searchParams.get('X-Amz-SignedHeaders')).not.toContain('host');
    const r = await fetch(url);
    expect(r.status).toBe(403);
    const body = await r.text();
    expect(body).toContain('<Code>AccessDenied</Code>');
    expect(body).toContain('The Host header must be signed');
  });
});

describe('public and private buckets without a signature', () => {
  beforeAll(async () => {
    const s3 = store.client(pub);
    await s3.send(
      new PutObjectCommand({
        Bucket: pub.name,
        Key: 'index.html',
        Body: '<h1>home</h1>',
        ContentType: 'text/html',
      }),
    );
    await s3.send(new PutObjectCommand({ Bucket: pub.name, Key: 'docs/index.html', Body: 'docs home' }));
    await s3.send(new PutObjectCommand({ Bucket: pub.name, Key: 'a.txt', Body: 'public a' }));
    await store
      .client(priv)
      .send(new PutObjectCommand({ Bucket: priv.name, Key: 'secret.txt', Body: 'secret' }));
  });

  it('a public object reads unsigned through the S3 endpoint; a private one does not', async () => {
    expect(await raw('GET', `/${pub.name}/a.txt`)).toEqual({ status: 200, body: 'public a' });
    const denied = await raw('GET', `/${priv.name}/secret.txt`);
    expect(denied.status).toBe(403);
    expect(denied.body).toContain('<Code>AccessDenied</Code>');
  });

  it('unsigned write to a public bucket: PUT, DELETE and multipart are refused, and nothing changes', async () => {
    for (const [method, p] of [
      ['PUT', `/${pub.name}/a.txt`],
      ['DELETE', `/${pub.name}/a.txt`],
      ['POST', `/${pub.name}/new.txt?uploads`],
      ['POST', `/${pub.name}?delete`],
    ]) {
      const r = await raw(method, p, undefined, 'overwritten');
      expect(r.status, `${method} ${p}`).toBe(403);
    }
    expect((await raw('GET', `/${pub.name}/a.txt`)).body).toBe('public a');
  });

  it('unsigned listing of a public bucket is refused', async () => {
    expect((await raw('GET', `/${pub.name}`)).status).toBe(403);
    expect((await raw('GET', `/${pub.name}?list-type=2`)).status).toBe(403);
    expect((await raw('GET', '/')).status).toBe(403);
  });

  it('its website host serves index.html for paths ending in /, no listing, no writes', async () => {
    expect(await raw('GET', '/', 'site.example.test')).toEqual({ status: 200, body: '<h1>home</h1>' });
    expect(await raw('GET', '/docs/', 'site.example.test')).toEqual({ status: 200, body: 'docs home' });
    expect((await raw('GET', '/missing/', 'site.example.test')).status).toBe(404);
    expect((await raw('GET', '/?list-type=2', 'site.example.test')).body).toBe('<h1>home</h1>');
    expect((await raw('PUT', '/a.txt', 'site.example.test', 'x')).status).toBe(405);
    expect((await raw('GET', '/docs', 'site.example.test')).status).toBe(302);
  });

  it('open redirect: a key starting with / never makes the website host redirect to another site', async () => {
    await store
      .client(pub)
      .send(new PutObjectCommand({ Bucket: pub.name, Key: '/evil.example/index.html', Body: 'x' }));
    const r = await siteGet('//evil.example', {});
    expect(r.status).toBe(302);
    expect(String(r.headers.location)).toBe('/%2Fevil.example/');
  });

  it("its website host answers 304 to a revalidation and 206 to a Range, with the object's headers", async () => {
    const first = await siteGet('/a.txt', {});
    expect(first.status).toBe(200);
    // The SDK's default Content-Type for an upload without one.
    expect(first.headers['content-type']).toBe('application/octet-stream');
    const etag = String(first.headers.etag);
    expect(first.headers['last-modified']).toBeTruthy();
    expect((await siteGet('/a.txt', { 'if-none-match': etag })).status).toBe(304);
    const since = String(first.headers['last-modified']);
    expect((await siteGet('/a.txt', { 'if-modified-since': since })).status).toBe(304);
    const part = await siteGet('/a.txt', { range: 'bytes=0-5' });
    expect(part.status).toBe(206);
    expect(part.body).toBe('public');
    expect((await siteGet('/', {})).headers['content-type']).toBe('text/html');
  });
});

describe('path traversal in keys', () => {
  const s3 = () => store.client(priv);

  it('../ and absolute keys are plain names: stored, listed, read back, nothing written outside the data dir', async () => {
    const keys = ['../../escape.txt', '/abs/olute.txt', 'a/../../../b.txt', '..'];
    for (const Key of keys)
      await s3().send(new PutObjectCommand({ Bucket: priv.name, Key, Body: `body of ${Key}` }));
    for (const Key of keys) {
      const r = await s3().send(new GetObjectCommand({ Bucket: priv.name, Key }));
      expect(await r.Body!.transformToString()).toBe(`body of ${Key}`);
    }
    const listed = await s3().send(new ListObjectsV2Command({ Bucket: priv.name }));
    for (const k of keys) expect(listed.Contents?.map((c) => c.Key)).toContain(k);
    expect(fs.readdirSync(store.dir).sort()).toEqual(['data', 'store.json']);
    expect(fs.existsSync(path.join(store.dataDir, '..', 'escape.txt'))).toBe(false);
    expect(fs.existsSync('/abs')).toBe(false);
  });

  it('an encoded ../ in a raw path does not leave the bucket', async () => {
    const r = await raw('GET', `/${pub.name}/..%2F${priv.name}%2Fsecret.txt`);
    expect(r.status).toBe(404);
    const dots = await raw('GET', `/${pub.name}/../${priv.name}/secret.txt`);
    expect(dots.status).toBe(404);
  });

  it('a NUL in a key is refused with InvalidArgument', async () => {
    const e = await errorOf(
      s3().send(new PutObjectCommand({ Bucket: priv.name, Key: 'nul\0key', Body: 'x' })),
    );
    expect(e.$metadata.httpStatusCode).toBe(400);
    expect(e.name).toBe('InvalidArgument');
  });
});

describe('config reloads (SIGHUP)', () => {
  it('a new bucket is live once the store reports its generation; a dropped key is refused; data stays until deleted', async () => {
    const added = makeBucket('added-778899');
    await store.reload((c) => {
      c.buckets.push(added);
    });
    await store.client(added).send(new PutObjectCommand({ Bucket: added.name, Key: 'k', Body: 'kept' }));
    await store.reload((c) => {
      c.buckets = c.buckets.filter((b) => b.name !== added.name);
    });
    const e = await errorOf(store.client(added).send(new GetObjectCommand({ Bucket: added.name, Key: 'k' })));
    expect(e.name).toBe('InvalidAccessKeyId');
    await store.reload((c) => {
      c.buckets.push(added);
    });
    const back = await store.client(added).send(new GetObjectCommand({ Bucket: added.name, Key: 'k' }));
    expect(await back.Body!.transformToString()).toBe('kept');
    await store.reload((c) => {
      c.buckets = c.buckets.filter((b) => b.name !== added.name);
      c.deletedBuckets = [added.name];
    });
    await store.reload((c) => {
      c.buckets.push(added);
      c.deletedBuckets = [];
    });
    const gone = await errorOf(
      store.client(added).send(new GetObjectCommand({ Bucket: added.name, Key: 'k' })),
    );
    expect(gone.name).toBe('NoSuchKey');
  });
});
