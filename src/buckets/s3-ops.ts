/**
 * What the daemon itself asks of the store through its S3 API, signed with the bucket's own keys (the store
 * knows no other): the lifecycle rules of `berth bucket lifecycle` and the CORS rules of `berth bucket cors`,
 * kept by the store with the bucket's objects.
 * @aws-sdk/client-s3 is imported on first use, as the backup target does.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { CorsRule } from '../storage/cors.js';
import type { Bucket } from '../store/buckets.js';
import { BUCKET_REGION } from './names.js';

type S3Module = typeof import('@aws-sdk/client-s3');

export interface LifecycleRule {
  id: string;
  prefix: string;
  expireDays: number | null;
  abortIncompleteMultipartDays: number | null;
}

type StoreAddress = { host: string; port: number };

/** Runs `use` with a client signing as the bucket, destroyed afterwards whatever happens. */
async function withClient<T>(
  address: StoreAddress,
  b: Bucket,
  use: (s3: S3Module, client: S3Client) => Promise<T>,
): Promise<T> {
  const s3 = await import('@aws-sdk/client-s3');
  const client = new s3.S3Client({
    endpoint: `http://${address.host}:${address.port}`,
    region: BUCKET_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: b.accessKeyId, secretAccessKey: b.secretAccessKey },
    maxAttempts: 2,
  });
  try {
    return await use(s3, client);
  } finally {
    client.destroy();
  }
}

/** The bucket's lifecycle rules ([] when it has none). */
export function readLifecycle(address: StoreAddress, b: Bucket): Promise<LifecycleRule[]> {
  return withClient(address, b, (s3, client) => rulesOf(s3, client, b));
}

async function rulesOf(s3: S3Module, client: S3Client, b: Bucket): Promise<LifecycleRule[]> {
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
  }
}

/**
 * Sets the expiration rule for `prefix` (objects older than `days` go, and multipart uploads abandoned that
 * long), keeping the bucket's rules for other prefixes; answers the rules in force.
 */
export function setExpiration(
  address: StoreAddress,
  b: Bucket,
  prefix: string,
  days: number,
): Promise<LifecycleRule[]> {
  return withClient(address, b, async (s3, client) => {
    const rules = (await rulesOf(s3, client, b)).filter((r) => r.prefix !== prefix);
    rules.push({
      id: `expire-${prefix || 'all'}`.slice(0, 255),
      prefix,
      expireDays: days,
      abortIncompleteMultipartDays: days,
    });
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
    return rulesOf(s3, client, b);
  });
}

export type { CorsRule };

/** The bucket's CORS rules in the order the store matches them ([] when it has none). */
export function readCors(address: StoreAddress, b: Bucket): Promise<CorsRule[]> {
  return withClient(address, b, (s3, client) => corsOf(s3, client, b));
}

async function corsOf(s3: S3Module, client: S3Client, b: Bucket): Promise<CorsRule[]> {
  try {
    const out = await client.send(new s3.GetBucketCorsCommand({ Bucket: b.s3Name }));
    return (out.CORSRules ?? []).map((r) => ({
      id: r.ID ?? '',
      allowedOrigins: r.AllowedOrigins ?? [],
      allowedMethods: r.AllowedMethods ?? [],
      allowedHeaders: r.AllowedHeaders ?? [],
      exposeHeaders: r.ExposeHeaders ?? [],
      maxAgeSeconds: r.MaxAgeSeconds ?? null,
    }));
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchCORSConfiguration') return [];
    throw err;
  }
}

/**
 * Replaces the bucket's CORS rules with one for browser uploads from `origins`: any request header (presigned
 * and SDK uploads send Content-Type and x-amz-* ones) and ETag exposed (multipart uploads need each part's);
 * answers the rules in force.
 */
export function setCors(
  address: StoreAddress,
  b: Bucket,
  rule: { origins: string[]; methods: string[]; maxAgeSeconds: number | null },
): Promise<CorsRule[]> {
  return withClient(address, b, async (s3, client) => {
    await client.send(
      new s3.PutBucketCorsCommand({
        Bucket: b.s3Name,
        CORSConfiguration: {
          CORSRules: [
            {
              ID: 'berth',
              AllowedOrigins: rule.origins,
              AllowedMethods: rule.methods,
              AllowedHeaders: ['*'],
              ExposeHeaders: ['ETag'],
              ...(rule.maxAgeSeconds === null ? {} : { MaxAgeSeconds: rule.maxAgeSeconds }),
            },
          ],
        },
      }),
    );
    return corsOf(s3, client, b);
  });
}

export function clearCors(address: StoreAddress, b: Bucket): Promise<void> {
  return withClient(address, b, async (s3, client) => {
    await client.send(new s3.DeleteBucketCorsCommand({ Bucket: b.s3Name }));
  });
}
