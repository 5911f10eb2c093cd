/**
 * What the daemon itself asks of the store through its S3 API, signed with the bucket's own keys (the store
 * knows no other): the lifecycle rules of `berth bucket lifecycle`, and emptying a bucket that is deleted.
 * @aws-sdk/client-s3 is imported on first use, as the backup target does.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { Bucket } from '../store/buckets.js';
import { BUCKET_REGION } from './names.js';

type S3Module = typeof import('@aws-sdk/client-s3');

export interface LifecycleRule {
  id: string;
  prefix: string;
  expireDays: number | null;
  abortIncompleteMultipartDays: number | null;
}

async function clientFor(
  address: { host: string; port: number },
  b: Bucket,
): Promise<{ s3: S3Module; client: S3Client }> {
  const s3 = await import('@aws-sdk/client-s3');
  const client = new s3.S3Client({
    endpoint: `http://${address.host}:${address.port}`,
    region: BUCKET_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: b.accessKeyId, secretAccessKey: b.secretAccessKey },
    maxAttempts: 2,
  });
  return { s3, client };
}

/** The bucket's lifecycle rules ([] when it has none). */
export async function readLifecycle(
  address: { host: string; port: number },
  b: Bucket,
): Promise<LifecycleRule[]> {
  const { s3, client } = await clientFor(address, b);
  try {
    const out = await client.send(new s3.GetBucketLifecycleConfigurationCommand({ Bucket: b.s3Name }));
    return (out.Rules ?? []).map((r) => ({
      id: r.ID ?? '',
      prefix: r.Filter?.Prefix ?? r.Prefix ?? '',
      expireDays: r.Expiration?.Days ?? null,
      abortIncompleteMultipartDays: r.AbortIncompleteMultipartUpload?.DaysAfterInitiation ?? null,
    }));
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchLifecycleConfiguration') return [];
    throw err;
  } finally {
    client.destroy();
  }
}

/**
 * Sets the expiration rule for `prefix` (objects older than `days` go, and multipart uploads abandoned that
 * long), keeping the bucket's rules for other prefixes; answers the rules in force.
 */
export async function setExpiration(
  address: { host: string; port: number },
  b: Bucket,
  prefix: string,
  days: number,
): Promise<LifecycleRule[]> {
  const rules = (await readLifecycle(address, b)).filter((r) => r.prefix !== prefix);
  rules.push({
    id: `expire-${prefix || 'all'}`.slice(0, 255),
    prefix,
    expireDays: days,
    abortIncompleteMultipartDays: days,
  });
  const { s3, client } = await clientFor(address, b);
  try {
    await client.send(
      new s3.PutBucketLifecycleConfigurationCommand({
        Bucket: b.s3Name,
        LifecycleConfiguration: {
          Rules: rules.map((r) => ({
            ID: r.id,
            Status: 'Enabled',
            Filter: { Prefix: r.prefix },
            ...(r.expireDays === null ? {} : { Expiration: { Days: r.expireDays } }),
            ...(r.abortIncompleteMultipartDays === null
              ? {}
              : { AbortIncompleteMultipartUpload: { DaysAfterInitiation: r.abortIncompleteMultipartDays } }),
          })),
        },
      }),
    );
  } finally {
    client.destroy();
  }
  return readLifecycle(address, b);
}

/** Deletes every object and abandoned multipart upload of the bucket; answers how many objects went. */
export async function emptyBucket(address: { host: string; port: number }, b: Bucket): Promise<number> {
  const { s3, client } = await clientFor(address, b);
  let removed = 0;
  try {
    for (;;) {
      const page = await client.send(new s3.ListObjectsV2Command({ Bucket: b.s3Name, MaxKeys: 1000 }));
      const keys = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [{ Key: o.Key }]));
      if (keys.length === 0) break;
      const out = await client.send(
        new s3.DeleteObjectsCommand({ Bucket: b.s3Name, Delete: { Objects: keys, Quiet: true } }),
      );
      if (out.Errors?.length) {
        const e = out.Errors[0];
        throw new Error(`the store refused to delete ${e.Key}: ${e.Code} ${e.Message ?? ''}`.trim());
      }
      removed += keys.length;
    }
    const uploads = await client.send(new s3.ListMultipartUploadsCommand({ Bucket: b.s3Name }));
    for (const u of uploads.Uploads ?? []) {
      if (u.Key && u.UploadId) {
        await client.send(
          new s3.AbortMultipartUploadCommand({ Bucket: b.s3Name, Key: u.Key, UploadId: u.UploadId }),
        );
      }
    }
  } finally {
    client.destroy();
  }
  return removed;
}
