import { describe, expect, it } from 'vitest';
import {
  bucketHash,
  newAccessKeyId,
  newSecretAccessKey,
  publicHostOf,
  s3NameOf,
  storageHostOf,
  virtualHostOf,
} from '../../src/buckets/names.js';

/** S3's rules for a bucket name that also works virtual-hosted-style: 3-63 of [a-z0-9-], no dots. */
const VALID_S3 = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

describe('bucket names', () => {
  it('makes the display name a valid S3 name and adds the hash', () => {
    expect(s3NameOf('uploads', 'a1b2c3')).toBe('uploads-a1b2c3');
    expect(s3NameOf('My_Files', 'a1b2c3')).toBe('my-files-a1b2c3');
    expect(s3NameOf('__', 'a1b2c3')).toBe('bucket-a1b2c3');
    const long = s3NameOf('x'.repeat(63), 'a1b2c3');
    expect(long).toHaveLength(63);
    for (const n of ['uploads', 'My_Files', '__', 'x'.repeat(63), 'a-'.repeat(40), '9']) {
      expect(s3NameOf(n, bucketHash())).toMatch(VALID_S3);
    }
  });

  it('hashes differ, keys have the shape AWS clients expect', () => {
    expect(new Set(Array.from({ length: 50 }, bucketHash)).size).toBe(50);
    expect(newAccessKeyId()).toMatch(/^BK[A-Z2-7]{18}$/);
    expect(newSecretAccessKey()).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(newSecretAccessKey()).not.toBe(newSecretAccessKey());
  });

  it('puts the S3 API, virtual hosts and public sites under zones no service name can produce', () => {
    expect(storageHostOf('Apps.Example.com')).toBe('storage.apps.example.com');
    expect(virtualHostOf('files-a1b2c3', 'apps.example.com')).toBe('files-a1b2c3.storage.apps.example.com');
    expect(publicHostOf('files-a1b2c3', 'apps.example.com')).toBe('files-a1b2c3.public.apps.example.com');
  });
});
