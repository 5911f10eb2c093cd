/** Reads and checks the StoreConfig file the daemon writes; a bad file is one sentence, never a half-applied config. */
import fs from 'node:fs';
import type { StoreBucket, StoreConfig } from './store-config.js';

/** S3's bucket naming rules (3-63 chars, lower-case letters, digits, dots, hyphens): never a path component. */
export const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function fail(file: string, what: string): never {
  throw new Error(`${file}: ${what}; the daemon writes this file, so restart berth server to rewrite it.`);
}

export function readStoreConfig(file: string): StoreConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    fail(file, `cannot be read as JSON (${(err as Error).message})`);
  }
  if (!raw || typeof raw !== 'object') fail(file, 'is not a JSON object');
  const c = raw as Record<string, unknown>;
  if (typeof c.generation !== 'number') fail(file, 'has no numeric "generation"');
  if (typeof c.region !== 'string' || !c.region) fail(file, 'has no "region"');
  if (!Array.isArray(c.storageHosts) || !c.storageHosts.every((h) => typeof h === 'string')) {
    fail(file, '"storageHosts" must be a list of host names');
  }
  if (!Array.isArray(c.buckets)) fail(file, '"buckets" must be a list');
  const buckets: StoreBucket[] = [];
  const keys = new Set<string>();
  for (const b of c.buckets as unknown[]) {
    const o = (b ?? {}) as Record<string, unknown>;
    if (typeof o.name !== 'string' || !BUCKET_NAME.test(o.name))
      fail(file, `bucket name ${JSON.stringify(o.name)} is invalid`);
    if (
      typeof o.accessKeyId !== 'string' ||
      !o.accessKeyId ||
      typeof o.secretAccessKey !== 'string' ||
      !o.secretAccessKey
    ) {
      fail(file, `bucket ${o.name} has no key pair`);
    }
    if (keys.has(o.accessKeyId)) fail(file, `access key ${o.accessKeyId} is given to two buckets`);
    keys.add(o.accessKeyId);
    buckets.push({
      name: o.name,
      accessKeyId: o.accessKeyId,
      secretAccessKey: o.secretAccessKey,
      public: o.public === true,
    });
  }
  const publicHosts: Record<string, string> = {};
  if (c.publicHosts && typeof c.publicHosts === 'object') {
    for (const [h, b] of Object.entries(c.publicHosts as Record<string, unknown>)) {
      if (typeof b === 'string') publicHosts[h.toLowerCase()] = b;
    }
  }
  const deletedBuckets = Array.isArray(c.deletedBuckets)
    ? (c.deletedBuckets as unknown[]).filter((n): n is string => typeof n === 'string' && BUCKET_NAME.test(n))
    : [];
  return {
    generation: c.generation,
    region: c.region,
    storageHosts: (c.storageHosts as string[]).map((h) => h.toLowerCase()),
    buckets,
    publicHosts,
    deletedBuckets,
  };
}
