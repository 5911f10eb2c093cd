/**
 * Receives a request body into a BodySink: decodes aws-chunked, and verifies everything the client vouched for —
 * length, x-amz-content-sha256, Content-MD5, an x-amz-checksum-* header or trailer — before anything is kept.
 */
import type { IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { PayloadCheck } from '../auth.js';
import {
  type ChecksumAlgorithm,
  checksumHeader,
  createHasher,
  type Hasher,
  parseChecksumAlgorithm,
} from '../checksums.js';
import { AwsChunkedDecoder } from '../chunked.js';
import { S3Error } from '../errors.js';
import { type BodySink, EntityTooLargeSignal, INLINE_MAX, type ObjectFiles } from '../object-files.js';

/** S3's single-request limit (PutObject, UploadPart). */
export const MAX_PUT_SIZE = 5 * 1024 ** 3;

export interface ReceivedBody {
  sink: BodySink;
  size: number;
  md5Hex: string;
  checksum: { algorithm: ChecksumAlgorithm; value: Buffer } | null;
}

/** The checksum algorithm a request names (header, trailer, or x-amz-sdk-checksum-algorithm), with its expected value. */
export function requestedChecksum(
  req: IncomingMessage,
): { algorithm: ChecksumAlgorithm; header: string | null } | null {
  const trailer = String(req.headers['x-amz-trailer'] ?? '')
    .toLowerCase()
    .trim();
  if (trailer.startsWith('x-amz-checksum-')) {
    const algorithm = parseChecksumAlgorithm(trailer.slice('x-amz-checksum-'.length));
    if (!algorithm)
      throw new S3Error('InvalidRequest', `The trailer ${trailer} names no checksum algorithm S3 knows.`);
    return { algorithm, header: null };
  }
  for (const name of Object.keys(req.headers)) {
    if (
      !name.startsWith('x-amz-checksum-') ||
      name === 'x-amz-checksum-mode' ||
      name === 'x-amz-checksum-type'
    ) {
      continue;
    }
    if (name === 'x-amz-checksum-algorithm') continue;
    const algorithm = parseChecksumAlgorithm(name.slice('x-amz-checksum-'.length));
    if (!algorithm)
      throw new S3Error('InvalidRequest', `The header ${name} names no checksum algorithm S3 knows.`);
    return { algorithm, header: String(req.headers[name]) };
  }
  const sdk = req.headers['x-amz-sdk-checksum-algorithm'];
  if (typeof sdk === 'string' && sdk) {
    const algorithm = parseChecksumAlgorithm(sdk);
    if (!algorithm)
      throw new S3Error('InvalidRequest', `x-amz-sdk-checksum-algorithm ${sdk} is not one S3 knows.`);
    return { algorithm, header: null };
  }
  return null;
}

export interface ReceiveOptions {
  files: ObjectFiles;
  payload: PayloadCheck;
  /** The algorithm the body must be checksummed with even when the request names none (a multipart upload's). */
  algorithm?: ChecksumAlgorithm | null;
  inlineMax?: number;
  /** Bodies larger than this are refused (default: 5 GiB). */
  maxSize?: number;
}

export async function receiveBody(req: IncomingMessage, o: ReceiveOptions): Promise<ReceivedBody> {
  const chunked =
    o.payload.kind === 'signed-chunks' ||
    o.payload.kind === 'unsigned-trailer' ||
    String(req.headers['content-encoding'] ?? '').includes('aws-chunked');
  const declared = chunked ? req.headers['x-amz-decoded-content-length'] : req.headers['content-length'];
  if (declared === undefined && !chunked) {
    throw new S3Error('MissingContentLength', 'You must provide the Content-Length HTTP header.');
  }
  const expectedSize = declared === undefined ? null : Number(declared);
  if (expectedSize !== null && (!Number.isSafeInteger(expectedSize) || expectedSize < 0)) {
    throw new S3Error('InvalidArgument', 'The content length header is not a valid number of bytes.');
  }
  if (expectedSize !== null && expectedSize > MAX_PUT_SIZE) {
    throw new S3Error(
      'EntityTooLarge',
      'Your proposed upload exceeds the maximum allowed size of 5 GiB; use a multipart upload.',
    );
  }
  const requested = requestedChecksum(req);
  if (requested && o.algorithm && requested.algorithm !== o.algorithm) {
    throw new S3Error(
      'InvalidRequest',
      `This upload was created with ${o.algorithm}; send ${checksumHeader(o.algorithm)}.`,
    );
  }
  const algorithm = requested?.algorithm ?? o.algorithm ?? null;
  const contentMd5 = req.headers['content-md5'] as string | undefined;
  if (contentMd5 !== undefined && !/^[A-Za-z0-9+/]{22}==$/.test(contentMd5)) {
    throw new S3Error('InvalidDigest', 'The Content-MD5 you specified is not a valid base64 MD5.');
  }

  const md5 = createHasher('MD5');
  const hashers: Hasher[] = [md5];
  const sha = o.payload.kind === 'sha256' ? createHasher('SHA256') : null;
  if (sha) hashers.push(sha);
  const sum = algorithm ? createHasher(algorithm) : null;
  if (sum) hashers.push(sum);

  const sink = o.files.sink(hashers, o.maxSize ?? MAX_PUT_SIZE, o.inlineMax ?? INLINE_MAX);
  const decoder = chunked
    ? new AwsChunkedDecoder(
        o.payload.kind === 'signed-chunks'
          ? { seed: o.payload.seed, key: o.payload.key, amzDate: o.payload.amzDate, scope: o.payload.scope }
          : null,
      )
    : null;
  try {
    if (decoder) await pipeline(req, decoder, sink);
    else await pipeline(req, sink);
  } catch (err) {
    await sink.discard();
    if (err instanceof EntityTooLargeSignal) {
      throw new S3Error(
        'EntityTooLarge',
        `Your proposed upload exceeds the maximum allowed size of ${o.maxSize ?? MAX_PUT_SIZE} bytes.`,
      );
    }
    if (err instanceof S3Error) throw err;
    throw new S3Error('IncompleteBody', 'The request body ended before the number of bytes it announced.');
  }
  try {
    if (expectedSize !== null && sink.size !== expectedSize) {
      throw new S3Error(
        'IncompleteBody',
        'You did not provide the number of bytes specified by the Content-Length HTTP header.',
      );
    }
    if (sha && o.payload.kind === 'sha256' && sha.digest().toString('hex') !== o.payload.expected) {
      throw new S3Error(
        'XAmzContentSHA256Mismatch',
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
      );
    }
    const md5Digest = md5.digest();
    if (contentMd5 !== undefined && md5Digest.toString('base64') !== contentMd5) {
      throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.');
    }
    let checksum: ReceivedBody['checksum'] = null;
    if (sum && algorithm) {
      const value = sum.digest();
      const given =
        requested?.header ?? (requested ? decoder?.trailers.get(checksumHeader(algorithm)) : undefined);
      if (
        requested &&
        !requested.header &&
        given === undefined &&
        String(req.headers['x-amz-trailer'] ?? '')
      ) {
        throw new S3Error(
          'InvalidRequest',
          `The trailer ${checksumHeader(algorithm)} was announced but not sent.`,
        );
      }
      if (given !== undefined && given !== value.toString('base64')) {
        throw new S3Error(
          'BadDigest',
          `The ${algorithm} you specified did not match the calculated checksum.`,
        );
      }
      checksum = { algorithm, value };
    }
    return { sink, size: sink.size, md5Hex: md5Digest.toString('hex'), checksum };
  } catch (err) {
    await sink.discard();
    throw err;
  }
}

/** A small request document (DeleteObjects, CompleteMultipartUpload, lifecycle, tagging), verified like any body. */
export async function receiveDocument(
  req: IncomingMessage,
  files: ObjectFiles,
  payload: PayloadCheck,
): Promise<Buffer> {
  const max = 2 * 1024 * 1024;
  const body = await receiveBody(req, { files, payload, inlineMax: max, maxSize: max });
  return body.sink.inline ?? Buffer.alloc(0);
}
