/**
 * STREAMING-AWS4-HMAC-SHA256-PAYLOAD end to end: a request signed chunk by chunk (as Java/Go SDKs and some
 * tools send over plain http) is stored; a forged chunk is refused and nothing is stored.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import { GetObjectCommand, type S3ServiceException } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  chunkStringToSign,
  credentialScope,
  signHex,
  signingKey,
  stringToSign,
} from '../../src/storage/sigv4.js';
import { makeBucket, StoreHarness } from '../helpers/object-store.js';

const bucket = makeBucket('chunks-5a6b7c');
const store = new StoreHarness([bucket]);
beforeAll(() => store.start());
afterAll(() => store.cleanup());

function signedChunkedPut(key: string, data: Buffer, chunkSize: number, forgeChunk = -1) {
  const amzDate = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const date = amzDate.slice(0, 8);
  const scope = credentialScope(date, 'us-east-1', 's3');
  const signing = signingKey(bucket.secretAccessKey, date, 'us-east-1', 's3');
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunkSize) chunks.push(data.subarray(i, i + chunkSize));
  chunks.push(Buffer.alloc(0));
  const encodedLength = chunks.reduce(
    (n, c) => n + c.length.toString(16).length + ';chunk-signature='.length + 64 + 4 + c.length,
    0,
  );
  const path = `/${bucket.name}/${key}`;
  const headers = new Map([
    ['content-encoding', 'aws-chunked'],
    ['content-length', String(encodedLength)],
    ['host', `127.0.0.1:${store.port}`],
    ['x-amz-content-sha256', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD'],
    ['x-amz-date', amzDate],
    ['x-amz-decoded-content-length', String(data.length)],
  ]);
  const signed = [...headers.keys()];
  const seed = signHex(
    signing,
    stringToSign(
      amzDate,
      scope,
      canonicalRequest({
        method: 'PUT',
        canonicalUri: canonicalUri(path)!,
        canonicalQuery: canonicalQuery([]),
        headers,
        signedHeaders: signed,
        payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      }),
    ),
  );
  let previous = seed;
  const body: Buffer[] = [];
  chunks.forEach((c, i) => {
    const hash = crypto.createHash('sha256').update(c).digest('hex');
    let signature = signHex(signing, chunkStringToSign(amzDate, scope, previous, hash));
    previous = signature;
    if (i === forgeChunk) signature = signature.replace(/^./, signature[0] === 'a' ? 'b' : 'a');
    body.push(
      Buffer.from(`${c.length.toString(16)};chunk-signature=${signature}\r\n`),
      c,
      Buffer.from('\r\n'),
    );
  });
  const authorization = `AWS4-HMAC-SHA256 Credential=${bucket.accessKeyId}/${scope}, SignedHeaders=${signed.join(';')}, Signature=${seed}`;
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: store.port,
        method: 'PUT',
        path,
        headers: { ...Object.fromEntries(headers), authorization },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(Buffer.concat(body));
  });
}

describe('signed aws-chunked uploads', () => {
  it('stores a body whose every chunk signature verifies', async () => {
    const data = crypto.randomBytes(200_000);
    const r = await signedChunkedPut('chunked.bin', data, 65_536);
    expect(r.status).toBe(200);
    const got = await store
      .client(bucket)
      .send(new GetObjectCommand({ Bucket: bucket.name, Key: 'chunked.bin' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true);
  });

  it('forged chunk signature: refused with SignatureDoesNotMatch and nothing stored', async () => {
    const r = await signedChunkedPut('forged.bin', crypto.randomBytes(200_000), 65_536, 2);
    expect(r.status).toBe(403);
    expect(r.body).toContain('<Code>SignatureDoesNotMatch</Code>');
    let err: S3ServiceException | null = null;
    try {
      await store.client(bucket).send(new GetObjectCommand({ Bucket: bucket.name, Key: 'forged.bin' }));
    } catch (e) {
      err = e as S3ServiceException;
    }
    expect(err?.name).toBe('NoSuchKey');
  });
});
