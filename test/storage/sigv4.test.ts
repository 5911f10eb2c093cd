import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { checksumOf, compositeChecksum } from '../../src/storage/checksums.js';
import { AwsChunkedDecoder } from '../../src/storage/chunked.js';
import { combineCrcs } from '../../src/storage/crc-combine.js';
import {
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  credentialScope,
  parseQuery,
  signHex,
  signingKey,
  stringToSign,
} from '../../src/storage/sigv4.js';

// AWS's published examples for S3 ("Signature Calculations for the Authorization Header", "Query String
// Authentication" and "Signature Calculations … in Multiple Chunks"), all with these credentials.
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const DATE = '20130524';
const AMZ_DATE = '20130524T000000Z';
const SCOPE = credentialScope(DATE, 'us-east-1', 's3');
const KEY = signingKey(SECRET, DATE, 'us-east-1', 's3');
const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

describe('SigV4 against AWS published test vectors', () => {
  it('GET Object with a Range header', () => {
    const headers = new Map([
      ['host', 'examplebucket.s3.amazonaws.com'],
      ['range', 'bytes=0-9'],
      ['x-amz-content-sha256', EMPTY],
      ['x-amz-date', AMZ_DATE],
    ]);
    const canonical = canonicalRequest({
      method: 'GET',
      canonicalUri: canonicalUri('/test.txt')!,
      canonicalQuery: '',
      headers,
      signedHeaders: ['host', 'range', 'x-amz-content-sha256', 'x-amz-date'],
      payloadHash: EMPTY,
    });
    expect(signHex(KEY, stringToSign(AMZ_DATE, SCOPE, canonical))).toBe(
      'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
  });

  it('PUT Object with a payload hash and a percent-encoded key', () => {
    const payload = 'Welcome to Amazon S3.';
    const hash = '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072';
    const headers = new Map([
      ['date', 'Fri, 24 May 2013 00:00:00 GMT'],
      ['host', 'examplebucket.s3.amazonaws.com'],
      ['x-amz-content-sha256', hash],
      ['x-amz-date', AMZ_DATE],
      ['x-amz-storage-class', 'REDUCED_REDUNDANCY'],
    ]);
    expect(payload.length).toBe(21);
    const canonical = canonicalRequest({
      method: 'PUT',
      canonicalUri: canonicalUri('/test%24file.text')!,
      canonicalQuery: '',
      headers,
      signedHeaders: ['date', 'host', 'x-amz-content-sha256', 'x-amz-date', 'x-amz-storage-class'],
      payloadHash: hash,
    });
    expect(signHex(KEY, stringToSign(AMZ_DATE, SCOPE, canonical))).toBe(
      '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd',
    );
  });

  it('GET Bucket lifecycle (a sub-resource with an empty value)', () => {
    const headers = new Map([
      ['host', 'examplebucket.s3.amazonaws.com'],
      ['x-amz-content-sha256', EMPTY],
      ['x-amz-date', AMZ_DATE],
    ]);
    const canonical = canonicalRequest({
      method: 'GET',
      canonicalUri: '/',
      canonicalQuery: canonicalQuery(parseQuery('lifecycle')!),
      headers,
      signedHeaders: ['host', 'x-amz-content-sha256', 'x-amz-date'],
      payloadHash: EMPTY,
    });
    expect(signHex(KEY, stringToSign(AMZ_DATE, SCOPE, canonical))).toBe(
      'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543',
    );
  });

  it('a presigned GET (X-Amz-Expires=86400)', () => {
    const query = parseQuery(
      'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host',
    )!;
    const canonical = canonicalRequest({
      method: 'GET',
      canonicalUri: '/test.txt',
      canonicalQuery: canonicalQuery(query),
      headers: new Map([['host', 'examplebucket.s3.amazonaws.com']]),
      signedHeaders: ['host'],
      payloadHash: 'UNSIGNED-PAYLOAD',
    });
    expect(signHex(KEY, stringToSign(AMZ_DATE, SCOPE, canonical))).toBe(
      'aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404',
    );
  });

  it('decodes a signed aws-chunked upload and checks each chunk signature', async () => {
    const seed = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9';
    const body = Buffer.concat([
      Buffer.from(
        '10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n',
      ),
      Buffer.alloc(65536, 'a'),
      Buffer.from(
        '\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n',
      ),
      Buffer.alloc(1024, 'a'),
      Buffer.from(
        '\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n',
      ),
    ]);
    const signing = { seed, key: KEY, amzDate: AMZ_DATE, scope: SCOPE };
    // Split at awkward places: the decoder must not depend on how TCP cuts the stream.
    const pieces = [
      body.subarray(0, 7),
      body.subarray(7, 40000),
      body.subarray(40000, 65600),
      body.subarray(65600),
    ];
    const decoder = new AwsChunkedDecoder(signing);
    const out: Buffer[] = [];
    decoder.on('data', (c: Buffer) => out.push(c));
    await new Promise<void>((resolve, reject) => {
      Readable.from(pieces).pipe(decoder).on('end', resolve).on('error', reject);
    });
    expect(Buffer.concat(out).equals(Buffer.alloc(66560, 'a'))).toBe(true);

    const forged = Buffer.from(body);
    forged[200] = 'b'.charCodeAt(0);
    const bad = new AwsChunkedDecoder(signing);
    bad.resume();
    const err = await new Promise<Error>((resolve) => {
      Readable.from([forged])
        .pipe(bad)
        .on('error', resolve)
        .on('end', () => resolve(new Error('accepted')));
    });
    expect(err.message).toMatch(/chunk signature/);
  });
});

describe('checksums against their check values ("123456789")', () => {
  const check = Buffer.from('123456789');
  it.each([
    ['CRC32', 'cbf43926'],
    ['CRC32C', 'e3069283'],
    ['CRC64NVME', 'ae8b14860a799888'],
    ['SHA1', 'f7c3bc1d808e04732adf679965ccc34ca7ae3441'],
  ] as const)('%s', (algorithm, hex) => {
    expect(checksumOf(algorithm, check).toString('hex')).toBe(hex);
  });

  it('CRC32C is the same fed byte by byte', () => {
    expect(checksumOf('CRC32C', Buffer.alloc(0)).toString('hex')).toBe('00000000');
  });

  it.each(['CRC32', 'CRC32C', 'CRC64NVME'] as const)(
    '%s of parts combine into the CRC of the whole',
    (algorithm) => {
      const parts = [Buffer.alloc(1000, 1), Buffer.from('xy'), Buffer.alloc(0), Buffer.alloc(70_001, 9)];
      const combined = combineCrcs(
        algorithm,
        parts.map((p) => ({ crc: checksumOf(algorithm, p), length: p.length })),
      );
      expect(combined.toString('hex')).toBe(checksumOf(algorithm, Buffer.concat(parts)).toString('hex'));
    },
  );

  it('composite checksums are the checksum of the parts checksums with the part count', () => {
    const parts = [checksumOf('CRC32', Buffer.from('a')), checksumOf('CRC32', Buffer.from('b'))];
    expect(compositeChecksum('CRC32', parts)).toBe(
      `${checksumOf('CRC32', Buffer.concat(parts)).toString('base64')}-2`,
    );
  });
});
