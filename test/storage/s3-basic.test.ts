import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBucket, StoreHarness } from '../helpers/object-store.js';
import { errorOf } from '../helpers/s3.js';

const photos = makeBucket('photos-a1b2c3');
const other = makeBucket('other-d4e5f6');
const store = new StoreHarness([photos, other]);

beforeAll(() => store.start());
afterAll(() => store.cleanup());

describe('the object store with @aws-sdk/client-s3 defaults (checksums on)', () => {
  it('reports the config generation it applied', async () => {
    expect(await store.status()).toBe(1);
  });

  it('lists only the bucket the key belongs to', async () => {
    const r = await store.client(photos).send(new ListBucketsCommand({}));
    expect(r.Buckets?.map((b) => b.Name)).toEqual(['photos-a1b2c3']);
  });

  it('puts, heads, gets and deletes an object with metadata and a CRC32 checksum', async () => {
    const s3 = store.client(photos);
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: photos.name,
        Key: 'dir/hello.txt',
        Body: 'hello world',
        ContentType: 'text/plain',
        CacheControl: 'max-age=60',
        Metadata: { owner: 'ada' },
      }),
    );
    expect(put.ETag).toBe('"5eb63bbbe01eeed093cb22bb8f5acdc3"');
    expect(put.ChecksumCRC32).toBe('DUoRhQ==');
    const head = await s3.send(new HeadObjectCommand({ Bucket: photos.name, Key: 'dir/hello.txt' }));
    expect(head.ContentLength).toBe(11);
    expect(head.ContentType).toBe('text/plain');
    expect(head.CacheControl).toBe('max-age=60');
    expect(head.Metadata).toEqual({ owner: 'ada' });
    const get = await s3.send(new GetObjectCommand({ Bucket: photos.name, Key: 'dir/hello.txt' }));
    expect(await get.Body?.transformToString()).toBe('hello world');
    expect(get.ChecksumCRC32).toBe('DUoRhQ==');
    await s3.send(new DeleteObjectCommand({ Bucket: photos.name, Key: 'dir/hello.txt' }));
    const gone = await errorOf(s3.send(new GetObjectCommand({ Bucket: photos.name, Key: 'dir/hello.txt' })));
    expect(gone.name).toBe('NoSuchKey');
    expect(gone.$metadata.httpStatusCode).toBe(404);
  });

  it('takes a streamed body (aws-chunked with a trailing checksum) larger than the inline limit', async () => {
    const s3 = store.client(photos);
    const chunk = Buffer.alloc(256 * 1024, 7);
    const body = Readable.from([chunk, chunk, chunk, chunk]);
    await s3.send(
      new PutObjectCommand({ Bucket: photos.name, Key: 'big.bin', Body: body, ContentLength: 1024 * 1024 }),
    );
    const get = await s3.send(new GetObjectCommand({ Bucket: photos.name, Key: 'big.bin' }));
    const bytes = Buffer.from(await get.Body!.transformToByteArray());
    expect(bytes.length).toBe(1024 * 1024);
    expect(bytes.every((b) => b === 7)).toBe(true);
  });
});
