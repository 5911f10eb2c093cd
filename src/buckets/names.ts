/**
 * A bucket's names and keys: its S3 name (the display name made a valid S3 name, plus a short hash, unique on
 * the server like Railway's), its host names under the storage host, and a fresh key pair.
 */
import { randomBytes } from 'node:crypto';

/** SigV4 region every bucket answers in (`AWS_DEFAULT_REGION`): R2's and Railway's. */
export const BUCKET_REGION = 'auto';

const HASH_CHARS = 6;

/** `My_Files` → `my-files-3f9a1c`: lower case, `-` for anything else, at most 63 characters, no dots. */
export function s3NameOf(displayName: string, hash: string): string {
  const base =
    displayName
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 63 - HASH_CHARS - 1)
      .replace(/-+$/, '') || 'bucket';
  return `${base}-${hash}`;
}

/** A short random hash for an S3 name (the caller retries on the rare clash). */
export function bucketHash(): string {
  return randomBytes(8).toString('hex').slice(0, HASH_CHARS);
}

const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** An access key id in AWS's shape (20 upper-case characters), `BK` for Berth's buckets. */
export function newAccessKeyId(): string {
  const bytes = randomBytes(18);
  let id = 'BK';
  for (const b of bytes) id += KEY_ALPHABET[b % 32];
  return id;
}

/** 40 characters like AWS's secrets (240 random bits). */
export function newSecretAccessKey(): string {
  return randomBytes(30).toString('base64').replace(/\+/g, 'A').replace(/\//g, 'B');
}

/** The host the S3 API answers on (`AWS_ENDPOINT_URL`'s): `storage.<base domain>`. */
export function storageHostOf(domain: string): string {
  return `storage.${domain.toLowerCase()}`;
}

/** Virtual-hosted-style: `<s3 name>.storage.<base domain>`. */
export function virtualHostOf(s3Name: string, domain: string): string {
  return `${s3Name}.${storageHostOf(domain)}`;
}

/**
 * A public bucket's own website host: `<s3 name>.public.<base domain>`, a zone of its own so it can never be a
 * service's generated name (`<service>-<project>.<domain>`) nor a custom domain (refused under the base domain).
 */
export function publicHostOf(s3Name: string, domain: string): string {
  return `${s3Name}.public.${domain.toLowerCase()}`;
}
