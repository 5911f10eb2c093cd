import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, describe, expect, it } from 'vitest';
import { makeBucket, StoreHarness } from '../helpers/object-store.js';
import { errorOf } from '../helpers/s3.js';

const bucket = makeBucket('durable-abc123');
const B = bucket.name;
const MiB = 1024 * 1024;
const stores: StoreHarness[] = [];

afterAll(async () => {
  for (const s of stores) await s.cleanup();
});

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name);
}

/** Starts a presigned PUT of `total` bytes, sends `sent` of them and leaves the request open. */
async function startSlowPut(store: StoreHarness, key: string, total: number, sent: number) {
  const url = await getSignedUrl(store.client(bucket), new PutObjectCommand({ Bucket: B, Key: key }), {
    expiresIn: 300,
  });
  const req = http.request(url, { method: 'PUT', headers: { 'content-length': total } });
  const response = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
  req.write(Buffer.alloc(sent, 1));
  // The store has the bytes once its temp file holds them.
  await store.waitFor(() => {
    const tmp = path.join(store.dataDir, 'tmp');
    return fs.readdirSync(tmp).some((f) => fs.statSync(path.join(tmp, f)).size >= sent);
  }, `${sent} bytes of ${key} to reach the store`);
  return { req, response };
}

describe('durability', () => {
  it('kill -9 during a multipart upload: acknowledged parts and objects survive, nothing partial is visible', async () => {
    const store = new StoreHarness([bucket]);
    stores.push(store);
    await store.start();
    const s3 = store.client(bucket);
    const part1 = Buffer.alloc(5 * MiB, 'a');
    const part2 = Buffer.alloc(5 * MiB, 'b');
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: B, Key: 'big', ChecksumAlgorithm: 'CRC32' }),
    );
    const p1 = await s3.send(
      new UploadPartCommand({ Bucket: B, Key: 'big', UploadId, PartNumber: 1, Body: part1 }),
    );
    const p2 = await s3.send(
      new UploadPartCommand({ Bucket: B, Key: 'big', UploadId, PartNumber: 2, Body: part2 }),
    );
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'done.txt', Body: 'acknowledged' }));
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'large-done', Body: Buffer.alloc(2 * MiB, 'z') }));
    const slow = await startSlowPut(store, 'partial', 8 * MiB, 3 * MiB);
    slow.response.catch(() => {});

    await store.stop('SIGKILL');
    slow.req.destroy();
    await store.start();

    const parts = await s3.send(new ListPartsCommand({ Bucket: B, Key: 'big', UploadId }));
    expect(parts.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size])).toEqual([
      [1, p1.ETag, 5 * MiB],
      [2, p2.ETag, 5 * MiB],
    ]);
    const done = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'done.txt' }));
    expect(await done.Body!.transformToString()).toBe('acknowledged');
    const large = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'large-done' }));
    expect(Buffer.from(await large.Body!.transformToByteArray()).equals(Buffer.alloc(2 * MiB, 'z'))).toBe(
      true,
    );
    const partial = await errorOf(s3.send(new GetObjectCommand({ Bucket: B, Key: 'partial' })));
    expect(partial.name).toBe('NoSuchKey');
    expect(filesUnder(path.join(store.dataDir, 'tmp'))).toEqual([]);

    const p3 = await s3.send(
      new UploadPartCommand({ Bucket: B, Key: 'big', UploadId, PartNumber: 3, Body: 'tail' }),
    );
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: B,
        Key: 'big',
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: p1.ETag, ChecksumCRC32: p1.ChecksumCRC32 },
            { PartNumber: 2, ETag: p2.ETag, ChecksumCRC32: p2.ChecksumCRC32 },
            { PartNumber: 3, ETag: p3.ETag, ChecksumCRC32: p3.ChecksumCRC32 },
          ],
        },
      }),
    );
    const big = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'big' }));
    const bytes = Buffer.from(await big.Body!.transformToByteArray());
    expect(bytes.equals(Buffer.concat([part1, part2, Buffer.from('tail')]))).toBe(true);
    // The upload's own files went with it; the object's data is the linked parts.
    expect(filesUnder(path.join(store.dataDir, 'parts'))).toEqual([]);
  });

  it('files no metadata names (a crash between data and commit) are removed at start', async () => {
    const store = new StoreHarness([bucket]);
    stores.push(store);
    await store.start();
    await store
      .client(bucket)
      .send(new PutObjectCommand({ Bucket: B, Key: 'kept', Body: Buffer.alloc(MiB, 'k') }));
    await store.stop('SIGKILL');
    const orphanDir = path.join(store.dataDir, 'objects', B, 'ff');
    fs.mkdirSync(orphanDir, { recursive: true });
    fs.writeFileSync(path.join(orphanDir, 'ff00000000000000000000000000dead'), 'orphan');
    await store.start();
    expect(fs.existsSync(path.join(orphanDir, 'ff00000000000000000000000000dead'))).toBe(false);
    expect(store.output).toContain('removed 1 data files');
    const kept = await store.client(bucket).send(new GetObjectCommand({ Bucket: B, Key: 'kept' }));
    expect((await kept.Body!.transformToByteArray()).length).toBe(MiB);
  });

  it('SIGTERM finishes the upload in flight, then exits 0', async () => {
    const store = new StoreHarness([bucket]);
    stores.push(store);
    await store.start();
    const slow = await startSlowPut(store, 'in-flight', 2 * MiB, MiB);
    const exited = store.stop('SIGTERM');
    await store.waitFor(() => store.output.includes('store: stopping'), 'the store to start stopping');
    slow.req.end(Buffer.alloc(MiB, 1));
    expect(await slow.response).toBe(200);
    expect(await exited).toBe(0);
    await store.start();
    const got = await store.client(bucket).send(new GetObjectCommand({ Bucket: B, Key: 'in-flight' }));
    expect((await got.Body!.transformToByteArray()).length).toBe(2 * MiB);
  });
});
