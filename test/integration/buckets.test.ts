import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  GetBucketLifecycleConfigurationCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BucketCredentials, BucketView } from '../../src/api/contract/index.js';
import { findHaproxy } from '../../src/edge/haproxy/driver.js';
import { processAlive } from '../../src/lib/pid-file.js';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness } from '../helpers/berth.js';
import { type BucketKeys, s3Client } from '../helpers/s3.js';

const drivers = findHaproxy() === null ? (['builtin'] as const) : (['builtin', 'haproxy'] as const);

/** The S3 error name an SDK call failed with (`AccessDenied`, `NoSuchKey`…), or 'ok'. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return (err as { name?: string }).name ?? String(err);
  }
}

/**
 * An object's bytes, read to the end: a GetObject answer whose body is left unread holds its connection open,
 * and when the edge or the store closes that connection later, the unread response emits an unhandled
 * `aborted` (ECONNRESET) error.
 */
async function objectBytes(s3: S3Client, Bucket: string, Key: string, Range?: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket, Key, Range }));
  return Buffer.from(
    await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
}

/**
 * Buckets as services (issue 17) through bin/berth against a real server and the real object store, on each
 * edge driver: Railway's verbs and variables, the AWS SDK path- and virtual-hosted-style through the edge, keys
 * scoped to one bucket, public buckets (304, Range, index.html, cache, custom domain), lifecycle, previews.
 */
describe.each(drivers)('buckets: %s edge', (kind) => {
  const berth = new BerthHarness();
  const p = ['-p', 'bk'];
  const clients: S3Client[] = [];
  const client = (keys: BucketKeys, opts: { virtualHosted?: boolean } = {}) => {
    const c = s3Client(keys, opts);
    clients.push(c);
    return c;
  };
  const json = async <T>(args: string[]): Promise<T> => {
    const r = await berth.cli([...args, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    return JSON.parse(r.stdout) as T;
  };
  const keysOf = async (name: string, env = 'production'): Promise<BucketKeys> => {
    const c = await json<BucketCredentials>(['bucket', 'credentials', name, ...p, '-e', env]);
    return { ...c, bucket: c.bucket };
  };
  /** An unsigned request through the edge with this Host. */
  const unsigned = async (host: string, urlPath: string, headers: Record<string, string> = {}) => {
    const res = await request(`http://127.0.0.1:${berth.httpPort}${urlPath}`, {
      headers: { host, ...headers },
      reset: true,
    });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  };

  beforeAll(async () => {
    berth.serverArgs = ['--edge', kind];
    await berth.start();
    const project = await berth.cli(['init', '--name', 'bk']);
    expect(project.code, project.stdout + project.stderr).toBe(0);
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await berth.stop();
  });

  it('berth bucket create starts the store and serves the bucket; list, info, status and variables show it', async () => {
    const b = await json<BucketView>(['bucket', 'create', 'uploads', ...p]);
    expect(b.s3Name).toMatch(/^uploads-[0-9a-f]{6}$/);
    expect(b.endpoint).toBe(`http://storage.localhost:${berth.httpPort}`);
    expect(b.public).toBe(false);
    expect(b.publicUrl).toBeNull();
    const list = await json<BucketView[]>(['bucket', 'list', ...p]);
    expect(list.map((x) => x.s3Name)).toEqual([b.s3Name]);
    expect((await json<BucketView>(['bucket', 'info', 'uploads', ...p])).s3Name).toBe(b.s3Name);

    const status = await json<{ services: { name: string; kind: string; state: string }[] }>([
      'status',
      ...p,
    ]);
    expect(status.services).toContainEqual(
      expect.objectContaining({ name: 'uploads', kind: 'bucket', state: 'running', url: b.endpoint }),
    );
    const keys = await keysOf('uploads');
    const vars = await json<Record<string, string>>(['variables', '-s', 'uploads', ...p]);
    expect(vars).toMatchObject({
      AWS_ENDPOINT_URL: b.endpoint,
      AWS_DEFAULT_REGION: keys.region,
      AWS_S3_BUCKET_NAME: b.s3Name,
      AWS_ACCESS_KEY_ID: keys.accessKeyId,
      AWS_SECRET_ACCESS_KEY: keys.secretAccessKey,
    });
    // The same create through `berth add --bucket`; a taken name is one sentence and a non-zero exit.
    const add = await berth.cli(['add', '--bucket', 'scratch', ...p]);
    expect(add.code, add.stdout + add.stderr).toBe(0);
    const again = await berth.cli(['bucket', 'create', 'uploads', ...p]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('Service "uploads" already exists');
  });

  it('bad input is one sentence and a non-zero exit, and changes nothing', async () => {
    const cases: [string[], string][] = [
      [['bucket', 'create', 'bad name!', ...p], 'Service name "bad name!" is not valid'],
      [['bucket', 'info', 'missing', ...p], 'Service "missing" does not exist'],
      [['bucket', 'info', 'uploads', '-e', 'nowhere', ...p], 'nowhere'],
      [['bucket', 'update', 'uploads', ...p], 'Pass one of --public or --private'],
      [['bucket', 'lifecycle', 'uploads', '--prefix', 'tmp/', ...p], '--prefix goes with --expire-days'],
      [['bucket', 'rename', 'uploads', 'scratch', ...p], 'Service "scratch" already exists'],
    ];
    for (const [args, sentence] of cases) {
      const r = await berth.cli(args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toContain(sentence);
    }
    const add = await berth.cli(['add', '--service', 'plain', ...p]);
    expect(add.code, add.stdout + add.stderr).toBe(0);
    const notBucket = await berth.cli(['bucket', 'credentials', 'plain', ...p]);
    expect(notBucket.code).not.toBe(0);
    expect(notBucket.stderr).toContain('Service "plain" is an app, not a bucket.');
    expect((await json<BucketView[]>(['bucket', 'list', ...p])).map((b) => b.service).sort()).toEqual([
      'scratch',
      'uploads',
    ]);
  });

  it('the AWS SDK reaches the bucket through the edge, path-style and virtual-hosted-style', async () => {
    const keys = await keysOf('uploads');
    const body = randomBytes(300_000);
    for (const virtualHosted of [false, true]) {
      const s3 = client(keys, { virtualHosted });
      const Key = `dir/${virtualHosted ? 'vh' : 'path'}.bin`;
      await s3.send(
        new PutObjectCommand({ Bucket: keys.bucket, Key, Body: body, ContentType: 'application/x-test' }),
      );
      const got = await s3.send(new GetObjectCommand({ Bucket: keys.bucket, Key }));
      expect(
        Buffer.from(
          await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
        ),
      ).toEqual(body);
      expect(got.ContentType).toBe('application/x-test');
    }
    const listed = await client(keys).send(new ListObjectsV2Command({ Bucket: keys.bucket, Prefix: 'dir/' }));
    expect(listed.Contents?.map((o) => o.Key).sort()).toEqual(['dir/path.bin', 'dir/vh.bin']);
  });

  it('attack: the keys of one environment’s bucket used on another environment’s bucket are refused', async () => {
    const made = await berth.cli(['environment', 'new', 'staging', '-d', 'production', ...p]);
    expect(made.code, made.stdout + made.stderr).toBe(0);
    // The new environment got its own, empty bucket for each of production's.
    const prod = await keysOf('uploads');
    const staging = await keysOf('uploads', 'staging');
    expect(staging.bucket).not.toBe(prod.bucket);
    expect(staging.accessKeyId).not.toBe(prod.accessKeyId);
    const empty = await client(staging).send(new ListObjectsV2Command({ Bucket: staging.bucket }));
    expect(empty.KeyCount ?? 0).toBe(0);
    // Production's keys on staging's bucket, and the other way round: read, list and write all refused.
    for (const [keys, victim] of [
      [prod, staging.bucket],
      [staging, prod.bucket],
    ] as const) {
      const s3 = client(keys);
      expect(await outcome(s3.send(new ListObjectsV2Command({ Bucket: victim })))).toBe('AccessDenied');
      expect(await outcome(s3.send(new GetObjectCommand({ Bucket: victim, Key: 'dir/path.bin' })))).toBe(
        'AccessDenied',
      );
      expect(
        await outcome(s3.send(new PutObjectCommand({ Bucket: victim, Key: 'planted', Body: 'x' }))),
      ).toBe('AccessDenied');
    }
    expect(
      await outcome(client(prod).send(new GetObjectCommand({ Bucket: prod.bucket, Key: 'planted' }))),
    ).toBe('NoSuchKey');
  });

  it('credentials --reset: the store refuses the old key once the command answered, the new one works', async () => {
    const old = await keysOf('uploads');
    const fresh = await json<BucketCredentials>(['bucket', 'credentials', 'uploads', '--reset', ...p]);
    expect(fresh.accessKeyId).not.toBe(old.accessKeyId);
    expect(await outcome(client(old).send(new ListObjectsV2Command({ Bucket: old.bucket })))).toBe(
      'InvalidAccessKeyId',
    );
    const listed = await client(fresh).send(
      new ListObjectsV2Command({ Bucket: fresh.bucket, Prefix: 'dir/' }),
    );
    expect(listed.KeyCount).toBe(2);
  });

  it('a public bucket serves objects unsigned through the edge: type, ETag, 304, Range, index.html, cache, no listing', async () => {
    const b = await json<BucketView>(['bucket', 'create', 'pages', '--public', ...p]);
    expect(b.publicUrl).toBe(`http://${b.s3Name}.public.localhost:${berth.httpPort}`);
    const keys = await keysOf('pages');
    const s3 = client(keys);
    // Cache-Control is the object's own, as on any S3 behind a CDN: it says how long the edge may keep it.
    const put = (Key: string, Body: string, ContentType: string) =>
      s3.send(
        new PutObjectCommand({
          Bucket: keys.bucket,
          Key,
          Body,
          ContentType,
          CacheControl: 'public, max-age=300',
        }),
      );
    await put('index.html', '<h1>home</h1>', 'text/html');
    await put('docs/index.html', '<h1>docs</h1>', 'text/html');
    await put('style.css', 'body{color:red}'.repeat(10), 'text/css');
    const host = `${b.s3Name}.public.localhost`;

    const css = await unsigned(host, '/style.css');
    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toBe('text/css');
    expect(css.body).toBe('body{color:red}'.repeat(10));
    const etag = String(css.headers.etag);
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(String(css.headers['last-modified'])).toMatch(/GMT$/);
    expect((await unsigned(host, '/style.css', { 'if-none-match': etag })).status).toBe(304);
    const range = await unsigned(host, '/style.css', { range: 'bytes=0-3' });
    expect(range.status).toBe(206);
    expect(range.body).toBe('body');
    expect((await unsigned(host, '/')).body).toBe('<h1>home</h1>');
    expect((await unsigned(host, '/docs/')).body).toBe('<h1>docs</h1>');
    // No listing, no writes, and a missing key is a 404.
    expect((await unsigned(host, '/?list-type=2')).body).toBe('<h1>home</h1>');
    expect((await unsigned(host, '/nothing/')).status).toBe(404);
    const write = await request(`http://127.0.0.1:${berth.httpPort}/planted`, {
      method: 'PUT',
      headers: { host },
      body: 'x',
    });
    await write.body.dump();
    expect(write.statusCode).toBeGreaterThanOrEqual(400);
    // The edge cache answers the next request itself.
    await waitFor(
      'a cache hit',
      async () => (await unsigned(host, '/style.css')).headers['x-cache'] === 'HIT',
      {
        timeoutMs: 5000,
      },
    );

    // A custom domain serves the same objects.
    const domain = await berth.cli(['domain', 'pages-bk.example.test', '-s', 'pages', ...p]);
    expect(domain.code, domain.stdout + domain.stderr).toBe(0);
    expect((await unsigned('pages-bk.example.test', '/docs/')).body).toBe('<h1>docs</h1>');

    // Private again: neither host answers unsigned requests any more.
    const priv = await json<BucketView>(['bucket', 'update', 'pages', '--private', ...p]);
    expect(priv.publicUrl).toBeNull();
    expect(priv.customDomains).toEqual(['pages-bk.example.test']);
    expect((await unsigned(host, '/style.css')).status).toBe(404);
    expect((await unsigned('pages-bk.example.test', '/style.css')).status).toBe(404);
  });

  it('a private bucket does not answer unsigned requests, path-style or virtual-hosted', async () => {
    const keys = await keysOf('uploads');
    const viaPath = await unsigned('storage.localhost', `/${keys.bucket}/dir/path.bin`);
    expect(viaPath.status).toBe(403);
    expect(viaPath.body).toContain('<Code>AccessDenied</Code>');
    const viaHost = await unsigned(`${keys.bucket}.storage.localhost`, '/dir/path.bin');
    expect(viaHost.status).toBe(403);
    expect((await unsigned(`${keys.bucket}.storage.localhost`, '/?list-type=2')).status).toBe(403);
  });

  it('attack: a bucket named after another bucket’s S3 name gets a host of its own', async () => {
    const victim = await keysOf('uploads');
    // The display name is the victim's S3 name: its S3 name adds a hash, so its hosts differ.
    const name = victim.bucket;
    const b = await json<BucketView>(['bucket', 'create', name, ...p]);
    expect(b.s3Name).not.toBe(victim.bucket);
    expect(b.s3Name.startsWith(`${victim.bucket}-`)).toBe(true);
    const attacker = await keysOf(name);
    expect(
      await outcome(
        client(attacker, { virtualHosted: true }).send(new ListObjectsV2Command({ Bucket: victim.bucket })),
      ),
    ).toBe('AccessDenied');
    // Custom domains under the base domain are refused, so no one can claim a storage or public host.
    for (const h of [
      'storage.localhost',
      `${victim.bucket}.storage.localhost`,
      `${victim.bucket}.public.localhost`,
    ]) {
      const claim = await berth.cli(['domain', h, '-s', 'pages', ...p]);
      expect(claim.code).not.toBe(0);
      expect(claim.stderr).toContain('use a domain of your own');
    }
    const del = await berth.cli(['bucket', 'delete', name, '--yes', ...p]);
    expect(del.code, del.stdout + del.stderr).toBe(0);
  });

  it('berth bucket lifecycle sets an expiration rule through the S3 API; rename keeps the S3 name', async () => {
    const l = await json<{ rules: { prefix: string; expireDays: number }[] }>([
      'bucket',
      'lifecycle',
      'uploads',
      '--expire-days',
      '30',
      '--prefix',
      'tmp/',
      ...p,
    ]);
    expect(l.rules).toEqual([expect.objectContaining({ prefix: 'tmp/', expireDays: 30 })]);
    const keys = await keysOf('uploads');
    const seen = await client(keys).send(new GetBucketLifecycleConfigurationCommand({ Bucket: keys.bucket }));
    expect(seen.Rules?.[0]).toMatchObject({ Status: 'Enabled', Expiration: { Days: 30 } });
    const bad = await berth.cli(['bucket', 'lifecycle', 'uploads', '--expire-days', '0', ...p]);
    expect(bad.code).not.toBe(0);

    const renamed = await json<BucketView>(['bucket', 'rename', 'uploads', 'files', ...p]);
    expect(renamed.service).toBe('files');
    expect(renamed.s3Name).toBe(keys.bucket);
    await json<BucketView>(['bucket', 'rename', 'files', 'uploads', ...p]);
  });

  it('other services reference the bucket’s variables; a credentials reset redeploys them with the new keys', async () => {
    const web = ['-s', 'web', ...p];
    const up = await berth.cli(['up', berth.app('env-echo', 'web'), ...web]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const set = await berth.cli([
      'variables',
      'set',
      'BUCKET=${{uploads.AWS_S3_BUCKET_NAME}}',
      'KEY_ID=${{uploads.AWS_ACCESS_KEY_ID}}',
      'ENDPOINT=${{uploads.AWS_ENDPOINT_URL}}',
      ...web,
    ]);
    expect(set.code, set.stdout + set.stderr).toBe(0);
    expect((await berth.settledDeployments(web))[0].status).toBe('SUCCESS');
    const host = berth.hostFor('web', 'bk');
    const keys = await keysOf('uploads');
    expect((await berth.get(host, '/BUCKET')).body).toBe(keys.bucket);
    expect((await berth.get(host, '/KEY_ID')).body).toBe(keys.accessKeyId);
    expect((await berth.get(host, '/ENDPOINT')).body).toBe(keys.endpoint);

    const reset = await json<BucketCredentials>(['bucket', 'credentials', 'uploads', '--reset', ...p]);
    expect(reset.redeployed).toEqual(['web']);
    await waitFor(
      'web to run with the new key',
      async () => (await berth.get(host, '/KEY_ID')).body === reset.accessKeyId,
      {
        timeoutMs: 60_000,
        intervalMs: 250,
      },
    );
  });

  it('the store outlives a kill -9 of the daemon (an upload through the edge keeps going) and is adopted', async () => {
    const keys = await keysOf('uploads');
    const storePid = () =>
      Number(
        (
          JSON.parse(fs.readFileSync(path.join(berth.dataDir, 'storage', 'store.handle.json'), 'utf8')) as {
            pid: number;
          }
        ).pid,
      );
    const before = storePid();
    const total = 64 * 1024 * 1024;
    const chunk = randomBytes(1024 * 1024);
    const hash = createHash('md5');
    let sent = 0;
    let release: () => void = () => {};
    const halfway = new Promise<void>((r) => {
      release = r;
    });
    let resumed: () => void = () => {};
    const resume = new Promise<void>((r) => {
      resumed = r;
    });
    // Half the object goes up, then the stream waits until the daemon was killed and started again.
    const body = Readable.from(
      (async function* () {
        while (sent < total) {
          if (sent === total / 2) {
            release();
            await resume;
          }
          hash.update(chunk);
          sent += chunk.length;
          yield chunk;
        }
      })(),
    );
    const upload = client(keys).send(
      new PutObjectCommand({ Bucket: keys.bucket, Key: 'big.bin', Body: body, ContentLength: total }),
    );
    await halfway;
    await berth.killDaemon();
    await berth.startDaemon();
    resumed();
    const done = await upload;
    expect(done.ETag).toBe(`"${hash.digest('hex')}"`);
    expect(storePid()).toBe(before);
    const head = await client(keys).send(
      new GetObjectCommand({ Bucket: keys.bucket, Key: 'big.bin', Range: 'bytes=0-0' }),
    );
    expect(head.ContentRange).toBe(`bytes 0-0/${total}`);
    expect(
      await (head.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
    ).toEqual(new Uint8Array(chunk.subarray(0, 1)));
  });

  it('a crashed store is restarted; berth bucket delete asks first, then removes the bucket and its objects', async () => {
    const handleFile = path.join(berth.dataDir, 'storage', 'store.handle.json');
    const pidOf = () => Number((JSON.parse(fs.readFileSync(handleFile, 'utf8')) as { pid: number }).pid);
    const crashed = pidOf();
    process.kill(crashed, 'SIGKILL');
    const keys = await keysOf('uploads');
    await waitFor(
      'the store to be restarted',
      async () =>
        pidOf() !== crashed &&
        (await outcome(objectBytes(client(keys), keys.bucket, 'dir/path.bin'))) === 'ok',
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    expect((await objectBytes(client(keys), keys.bucket, 'dir/path.bin')).length).toBe(300_000);

    // Modes: no other user (a sandboxed app's uid) can read a key or an object.
    const dir = path.join(berth.dataDir, 'storage');
    expect(fs.statSync(dir).mode & 0o077).toBe(0);
    expect(fs.statSync(path.join(dir, 'config.json')).mode & 0o777).toBe(0o600);

    const refused = await berth.cli(['bucket', 'delete', 'scratch', ...p]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('pass -y');
    expect((await json<BucketView[]>(['bucket', 'list', ...p])).map((b) => b.service)).toContain('scratch');
    const scratch = await keysOf('scratch');
    await client(scratch).send(new PutObjectCommand({ Bucket: scratch.bucket, Key: 'a', Body: 'a' }));
    // staging (a copy of production) has a scratch bucket too: the service goes with the last one.
    const del = await json<{ serviceDeleted: boolean }>(['bucket', 'delete', 'scratch', '--yes', ...p]);
    expect(del.serviceDeleted).toBe(false);
    const last = await json<{ serviceDeleted: boolean }>([
      'bucket',
      'delete',
      'scratch',
      '-y',
      ...p,
      '-e',
      'staging',
    ]);
    expect(last.serviceDeleted).toBe(true);
    expect((await json<BucketView[]>(['bucket', 'list', ...p])).map((b) => b.service)).not.toContain(
      'scratch',
    );
    expect(await outcome(client(scratch).send(new ListObjectsV2Command({ Bucket: scratch.bucket })))).toBe(
      'InvalidAccessKeyId',
    );

    // Deleting an environment deletes its buckets with their data.
    const stagingKeys = await keysOf('uploads', 'staging');
    const envDel = await berth.cli(['environment', 'delete', 'staging', ...p]);
    expect(envDel.code, envDel.stdout + envDel.stderr).toBe(0);
    expect(
      await outcome(client(stagingKeys).send(new ListObjectsV2Command({ Bucket: stagingKeys.bucket }))),
    ).toBe('InvalidAccessKeyId');
    expect(fs.readFileSync(path.join(dir, 'store.log'), 'utf8')).toContain(
      `bucket ${stagingKeys.bucket} deleted with its data`,
    );

    const running = pidOf();
    const stop = await berth.cli(['server', 'stop', '--all', '--data-dir', berth.dataDir]);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout).toContain('Stopped the object store.');
    expect(processAlive(running)).toBe(false);
    // The store deleted the bucket's data when it applied the config that listed it as deleted.
    expect(fs.readFileSync(path.join(dir, 'store.log'), 'utf8')).toContain(
      `bucket ${scratch.bucket} deleted with its data`,
    );
    expect(fs.existsSync(path.join(dir, 'data', 'objects', scratch.bucket))).toBe(false);

    // The next server start, with buckets on record, starts the store again.
    await berth.startDaemon();
    expect(pidOf()).not.toBe(running);
    const alive = await keysOf('uploads');
    expect((await objectBytes(client(alive), alive.bucket, 'big.bin', 'bytes=0-0')).length).toBe(1);
  });
});
