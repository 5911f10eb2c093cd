import http from 'node:http';
import type { LookupFunction } from 'node:net';
import { S3Client, type S3ServiceException } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';

export interface BucketKeys {
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** Every name resolves to this machine: the edge's generated hosts (`storage.localhost`, `<b>.storage.…`). */
const toLoopback: LookupFunction = (_host, opts, cb) => {
  if ((opts as { all?: boolean }).all)
    (cb as (e: null, a: { address: string; family: number }[]) => void)(null, [
      { address: '127.0.0.1', family: 4 },
    ]);
  else cb(null, '127.0.0.1', 4);
};

/**
 * The app side: @aws-sdk/client-s3 with its default settings (checksums on), at the bucket's AWS_ENDPOINT_URL
 * through the edge; path-style or virtual-hosted-style (`<bucket>.<endpoint host>`).
 */
export function s3Client(keys: BucketKeys, opts: { virtualHosted?: boolean } = {}): S3Client {
  return new S3Client({
    endpoint: keys.endpoint,
    region: keys.region,
    forcePathStyle: !opts.virtualHosted,
    credentials: { accessKeyId: keys.accessKeyId, secretAccessKey: keys.secretAccessKey },
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpAgent: new http.Agent({ lookup: toLoopback }) }),
  });
}

/** The S3 error a request that must fail rejects with (fails the test when it succeeds). */
export async function errorOf(p: Promise<unknown>): Promise<S3ServiceException> {
  try {
    await p;
  } catch (err) {
    return err as S3ServiceException;
  }
  throw new Error('expected the request to fail');
}
