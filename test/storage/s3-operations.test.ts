import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteBucketLifecycleCommand,
  DeleteObjectsCommand,
  DeleteObjectTaggingCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketLocationCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutBucketLifecycleConfigurationCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  type S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checksumOf } from '../../src/storage/checksums.js';
import { makeBucket, StoreHarness } from '../helpers/object-store.js';
import { errorOf, s3Client } from '../helpers/s3.js';

const bucket = makeBucket('ops-bucket-1a2b');
const store = new StoreHarness([bucket]);
let s3: S3Client;
const B = bucket.name;

beforeAll(async () => {
  await store.start(['--sweep-interval-ms', '200', '--day-ms', '1000']);
  s3 = store.client(bucket);
});
afterAll(() => store.cleanup());

const put = (Key: string, Body: string | Buffer = Key) =>
  s3.send(new PutObjectCommand({ Bucket: B, Key, Body }));
const read = async (Key: string) =>
  (await s3.send(new GetObjectCommand({ Bucket: B, Key }))).Body!.transformToString();

describe('bucket operations', () => {
  it('HeadBucket and GetBucketLocation answer; another bucket is denied', async () => {
    await s3.send(new HeadBucketCommand({ Bucket: B }));
    const loc = await s3.send(new GetBucketLocationCommand({ Bucket: B }));
    expect(loc.LocationConstraint ?? '').toBe('');
    const e = await errorOf(s3.send(new HeadBucketCommand({ Bucket: 'somebody-else' })));
    expect(e.$metadata.httpStatusCode).toBe(403);
  });

  it('virtual-hosted-style requests (<bucket>.<storage host>) reach the same bucket', async () => {
    const vhost = s3Client(
      { ...bucket, bucket: B, endpoint: `http://s3.localhost:${store.port}`, region: 'us-east-1' },
      { virtualHosted: true },
    );
    await vhost.send(new PutObjectCommand({ Bucket: B, Key: 'vhost/a b+c.txt', Body: 'virtual' }));
    expect(await read('vhost/a b+c.txt')).toBe('virtual');
    vhost.destroy();
  });
});

describe('listing', () => {
  beforeAll(async () => {
    for (const k of [
      'list/a.txt',
      'list/b/1.txt',
      'list/b/2.txt',
      'list/c/1.txt',
      'list/d.txt',
      'list/e f.txt',
    ]) {
      await put(k);
    }
  });

  it('ListObjectsV2 rolls keys up by delimiter and pages with continuation tokens', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const r = await s3.send(
        new ListObjectsV2Command({
          Bucket: B,
          Prefix: 'list/',
          Delimiter: '/',
          MaxKeys: 2,
          ContinuationToken: token,
        }),
      );
      pages++;
      for (const c of r.Contents ?? []) seen.push(c.Key!);
      for (const p of r.CommonPrefixes ?? []) seen.push(p.Prefix!);
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
      expect(r.KeyCount).toBe((r.Contents?.length ?? 0) + (r.CommonPrefixes?.length ?? 0));
    } while (token);
    // Within a page, keys and common prefixes come in two lists.
    expect(seen.sort()).toEqual(['list/a.txt', 'list/b/', 'list/c/', 'list/d.txt', 'list/e f.txt']);
    expect(pages).toBe(3);
  });

  it('ListObjectsV2 honours start-after and encoding-type=url', async () => {
    const r = await s3.send(
      new ListObjectsV2Command({
        Bucket: B,
        Prefix: 'list/',
        StartAfter: 'list/c/1.txt',
        EncodingType: 'url',
      }),
    );
    // The v3 SDK hands url-encoded keys over as they came.
    expect(r.Contents?.map((c) => c.Key)).toEqual(['list/d.txt', 'list/e%20f.txt']);
  });

  it('ListObjects v1 pages with markers', async () => {
    const first = await s3.send(new ListObjectsCommand({ Bucket: B, Prefix: 'list/', MaxKeys: 3 }));
    expect(first.Contents?.map((c) => c.Key)).toEqual(['list/a.txt', 'list/b/1.txt', 'list/b/2.txt']);
    expect(first.IsTruncated).toBe(true);
    const next = await s3.send(
      new ListObjectsCommand({ Bucket: B, Prefix: 'list/', Marker: first.NextMarker }),
    );
    expect(next.Contents?.map((c) => c.Key)).toEqual(['list/c/1.txt', 'list/d.txt', 'list/e f.txt']);
  });
});

describe('reads: ranges and conditions', () => {
  let etag = '';
  let lastModified: Date;
  beforeAll(async () => {
    etag = (await put('ranged.txt', '0123456789')).ETag!;
    lastModified = (await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'ranged.txt' }))).LastModified!;
  });

  it('serves a Range with 206 and never a whole-object checksum', async () => {
    const r = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'ranged.txt', Range: 'bytes=2-5' }));
    expect(await r.Body!.transformToString()).toBe('2345');
    expect(r.ContentRange).toBe('bytes 2-5/10');
    expect(r.ChecksumCRC32).toBeUndefined();
    const suffix = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'ranged.txt', Range: 'bytes=-3' }));
    expect(await suffix.Body!.transformToString()).toBe('789');
  });

  it('answers 416 InvalidRange past the end', async () => {
    const e = await errorOf(
      s3.send(new GetObjectCommand({ Bucket: B, Key: 'ranged.txt', Range: 'bytes=10-' })),
    );
    expect(e.$metadata.httpStatusCode).toBe(416);
    expect(e.name).toBe('InvalidRange');
  });

  it('If-None-Match and If-Modified-Since give 304, If-Match and If-Unmodified-Since give 412', async () => {
    const notModified = await errorOf(
      s3.send(new GetObjectCommand({ Bucket: B, Key: 'ranged.txt', IfNoneMatch: etag })),
    );
    expect(notModified.$metadata.httpStatusCode).toBe(304);
    const since = await errorOf(
      s3.send(new GetObjectCommand({ Bucket: B, Key: 'ranged.txt', IfModifiedSince: lastModified })),
    );
    expect(since.$metadata.httpStatusCode).toBe(304);
    const failed = await errorOf(
      s3.send(new GetObjectCommand({ Bucket: B, Key: 'ranged.txt', IfMatch: '"nope"' })),
    );
    expect(failed.$metadata.httpStatusCode).toBe(412);
    const old = new Date(lastModified.getTime() - 60_000);
    const unmodified = await errorOf(
      s3.send(new GetObjectCommand({ Bucket: B, Key: 'ranged.txt', IfUnmodifiedSince: old })),
    );
    expect(unmodified.$metadata.httpStatusCode).toBe(412);
    const ok = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'ranged.txt', IfMatch: etag }));
    expect(await ok.Body!.transformToString()).toBe('0123456789');
  });
});

describe('writes', () => {
  it('If-None-Match: * refuses to overwrite, If-Match needs the current ETag', async () => {
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'once.txt', Body: 'first', IfNoneMatch: '*' }));
    const e = await errorOf(
      s3.send(new PutObjectCommand({ Bucket: B, Key: 'once.txt', Body: 'second', IfNoneMatch: '*' })),
    );
    expect(e.$metadata.httpStatusCode).toBe(412);
    const m = await errorOf(
      s3.send(new PutObjectCommand({ Bucket: B, Key: 'once.txt', Body: 'x', IfMatch: '"abc"' })),
    );
    expect(m.$metadata.httpStatusCode).toBe(412);
    expect(await read('once.txt')).toBe('first');
  });

  it('checks Content-MD5 and each checksum algorithm', async () => {
    const e = await errorOf(
      s3.send(
        new PutObjectCommand({
          Bucket: B,
          Key: 'md5.txt',
          Body: 'abc',
          ContentMD5: 'AAAAAAAAAAAAAAAAAAAAAA==',
        }),
      ),
    );
    expect(e.name).toBe('BadDigest');
    for (const ChecksumAlgorithm of ['CRC32C', 'SHA1', 'SHA256', 'CRC64NVME'] as const) {
      const r = await s3.send(
        new PutObjectCommand({
          Bucket: B,
          Key: `sum-${ChecksumAlgorithm}`,
          Body: 'checksummed',
          ChecksumAlgorithm,
        }),
      );
      const h = await s3.send(
        new HeadObjectCommand({ Bucket: B, Key: `sum-${ChecksumAlgorithm}`, ChecksumMode: 'ENABLED' }),
      );
      const field = `Checksum${ChecksumAlgorithm}` as const;
      expect(h[field]).toBe(r[field]);
      expect(h[field]).toBeTruthy();
    }
    const bad = await errorOf(
      s3.send(
        new PutObjectCommand({
          Bucket: B,
          Key: 'badsum',
          Body: 'abc',
          ChecksumSHA256: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
        }),
      ),
    );
    expect(bad.name).toBe('BadDigest');
  });

  it('CopyObject percent-decodes the source and copies or replaces metadata', async () => {
    await s3.send(
      new PutObjectCommand({
        Bucket: B,
        Key: 'src/ä b.txt',
        Body: 'copy me',
        ContentType: 'text/x-a',
        Metadata: { a: '1' },
      }),
    );
    await s3.send(
      new CopyObjectCommand({
        Bucket: B,
        Key: 'dst/kept.txt',
        CopySource: `${B}/${encodeURIComponent('src/ä b.txt')}`,
      }),
    );
    const kept = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'dst/kept.txt' }));
    expect(kept.ContentType).toBe('text/x-a');
    expect(kept.Metadata).toEqual({ a: '1' });
    await s3.send(
      new CopyObjectCommand({
        Bucket: B,
        Key: 'dst/replaced.txt',
        CopySource: `${B}/${encodeURIComponent('src/ä b.txt')}`,
        MetadataDirective: 'REPLACE',
        ContentType: 'text/x-b',
        Metadata: { b: '2' },
      }),
    );
    const replaced = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'dst/replaced.txt' }));
    expect(replaced.ContentType).toBe('text/x-b');
    expect(replaced.Metadata).toEqual({ b: '2' });
    expect(await read('dst/replaced.txt')).toBe('copy me');
  });

  it('DeleteObjects removes many keys in one request', async () => {
    await put('del/1');
    await put('del/2');
    const r = await s3.send(
      new DeleteObjectsCommand({
        Bucket: B,
        Delete: { Objects: [{ Key: 'del/1' }, { Key: 'del/2' }, { Key: 'del/none' }] },
      }),
    );
    expect(r.Deleted?.map((d) => d.Key).sort()).toEqual(['del/1', 'del/2', 'del/none']);
    const left = await s3.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'del/' }));
    expect(left.KeyCount).toBe(0);
  });

  it('tags objects on put and with the tagging API', async () => {
    await s3.send(
      new PutObjectCommand({ Bucket: B, Key: 'tagged', Body: 't', Tagging: 'team=web&tier=gold' }),
    );
    const t = await s3.send(new GetObjectTaggingCommand({ Bucket: B, Key: 'tagged' }));
    expect(t.TagSet).toEqual([
      { Key: 'team', Value: 'web' },
      { Key: 'tier', Value: 'gold' },
    ]);
    await s3.send(
      new PutObjectTaggingCommand({
        Bucket: B,
        Key: 'tagged',
        Tagging: { TagSet: [{ Key: 'x', Value: 'y' }] },
      }),
    );
    expect((await s3.send(new GetObjectTaggingCommand({ Bucket: B, Key: 'tagged' }))).TagSet).toEqual([
      { Key: 'x', Value: 'y' },
    ]);
    await s3.send(new DeleteObjectTaggingCommand({ Bucket: B, Key: 'tagged' }));
    expect((await s3.send(new GetObjectTaggingCommand({ Bucket: B, Key: 'tagged' }))).TagSet).toEqual([]);
  });
});

describe('multipart uploads', () => {
  it('lib-storage Upload: parts, a composite CRC32 and the S3 multipart ETag', async () => {
    const body = Buffer.alloc(12 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 4096) body[i] = i % 251;
    const up = new Upload({
      client: s3,
      params: { Bucket: B, Key: 'mp/big.bin', Body: body },
      partSize: 5 * 1024 * 1024,
    });
    const done = await up.done();
    expect(done.ETag).toMatch(/-3"$/);
    const head = await s3.send(
      new HeadObjectCommand({ Bucket: B, Key: 'mp/big.bin', ChecksumMode: 'ENABLED' }),
    );
    expect(head.ContentLength).toBe(body.length);
    expect(head.ChecksumCRC32).toMatch(/-3$/);
    const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'mp/big.bin' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    const range = await s3.send(
      new GetObjectCommand({
        Bucket: B,
        Key: 'mp/big.bin',
        Range: `bytes=${5 * 1024 * 1024 - 2}-${5 * 1024 * 1024 + 1}`,
      }),
    );
    expect(
      Buffer.from(await range.Body!.transformToByteArray()).equals(
        body.subarray(5 * 1024 * 1024 - 2, 5 * 1024 * 1024 + 2),
      ),
    ).toBe(true);
  });

  it('lists uploads and parts, copies a part, refuses a small middle part, aborts', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'mp/manual' }));
    await put('mp/source', 'S'.repeat(100));
    const p1 = await s3.send(
      new UploadPartCommand({ Bucket: B, Key: 'mp/manual', UploadId, PartNumber: 1, Body: 'small' }),
    );
    const p2 = await s3.send(
      new UploadPartCopyCommand({
        Bucket: B,
        Key: 'mp/manual',
        UploadId,
        PartNumber: 2,
        CopySource: `${B}/mp/source`,
        CopySourceRange: 'bytes=0-9',
      }),
    );
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: B, Prefix: 'mp/' }));
    expect(uploads.Uploads?.map((u) => u.UploadId)).toContain(UploadId);
    const parts = await s3.send(new ListPartsCommand({ Bucket: B, Key: 'mp/manual', UploadId }));
    expect(parts.Parts?.map((p) => [p.PartNumber, p.Size])).toEqual([
      [1, 5],
      [2, 10],
    ]);
    const tooSmall = await errorOf(
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: B,
          Key: 'mp/manual',
          UploadId,
          MultipartUpload: {
            Parts: [
              { PartNumber: 1, ETag: p1.ETag },
              { PartNumber: 2, ETag: p2.CopyPartResult?.ETag },
            ],
          },
        }),
      ),
    );
    expect(tooSmall.name).toBe('EntityTooSmall');
    await s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: 'mp/manual', UploadId }));
    const gone = await errorOf(s3.send(new ListPartsCommand({ Bucket: B, Key: 'mp/manual', UploadId })));
    expect(gone.name).toBe('NoSuchUpload');
  });

  it("a CRC64NVME upload gets a FULL_OBJECT checksum equal to the whole object's", async () => {
    const body = Buffer.alloc(11 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 997) body[i] = i % 253;
    const up = new Upload({
      client: s3,
      params: { Bucket: B, Key: 'mp/nvme.bin', Body: body, ChecksumAlgorithm: 'CRC64NVME' },
      partSize: 5 * 1024 * 1024,
    });
    await up.done();
    const head = await s3.send(
      new HeadObjectCommand({ Bucket: B, Key: 'mp/nvme.bin', ChecksumMode: 'ENABLED' }),
    );
    expect(head.ChecksumType).toBe('FULL_OBJECT');
    expect(head.ChecksumCRC64NVME).toBe(checksumOf('CRC64NVME', body).toString('base64'));
    // With a full-object checksum the SDK validates the download itself.
    const got = await s3.send(
      new GetObjectCommand({ Bucket: B, Key: 'mp/nvme.bin', ChecksumMode: 'ENABLED' }),
    );
    expect((await got.Body!.transformToByteArray()).length).toBe(body.length);
  });

  it('a single-part upload completes into the object', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'mp/one' }));
    const p = await s3.send(
      new UploadPartCommand({ Bucket: B, Key: 'mp/one', UploadId, PartNumber: 1, Body: 'only part' }),
    );
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: B,
        Key: 'mp/one',
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p.ETag, ChecksumCRC32: p.ChecksumCRC32 }] },
      }),
    );
    expect(await read('mp/one')).toBe('only part');
  });
});

describe('lifecycle', () => {
  it('stores rules and the sweep expires objects under the prefix', async () => {
    const none = await errorOf(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: B })));
    expect(none.name).toBe('NoSuchLifecycleConfiguration');
    await put('tmp/old.txt');
    await put('keep/old.txt');
    await s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: B,
        LifecycleConfiguration: {
          Rules: [
            { ID: 'tmp', Status: 'Enabled', Filter: { Prefix: 'tmp/' }, Expiration: { Days: 1 } },
            {
              ID: 'mpu',
              Status: 'Enabled',
              Filter: { Prefix: '' },
              AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
            },
          ],
        },
      }),
    );
    const got = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: B }));
    expect(got.Rules?.map((r) => r.ID)).toEqual(['tmp', 'mpu']);
    // The store runs with a 1 s "day" and a 200 ms sweep.
    await store.waitFor(async () => {
      const r = await s3.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'tmp/' }));
      return r.KeyCount === 0;
    }, 'the lifecycle sweep to expire tmp/old.txt');
    expect(await read('keep/old.txt')).toBe('keep/old.txt');
    await s3.send(new DeleteBucketLifecycleCommand({ Bucket: B }));
    const after = await errorOf(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: B })));
    expect(after.name).toBe('NoSuchLifecycleConfiguration');
  });
});
