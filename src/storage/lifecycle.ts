/**
 * Lifecycle rules (expiration by prefix and age, cleanup of abandoned multipart uploads): parsed from S3's
 * LifecycleConfiguration document, stored as JSON per bucket, applied by a periodic sweep.
 */
import path from 'node:path';
import { S3Error } from './errors.js';
import type { Store } from './store.js';
import { list, text, type XmlObject } from './xml.js';

export interface LifecycleRule {
  id: string;
  prefix: string;
  enabled: boolean;
  expirationDays: number | null;
  abortDays: number | null;
}

function days(value: string, what: string): number | null {
  if (value === '') return null;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new S3Error('InvalidArgument', `${what} must be a positive whole number of days.`);
  return n;
}

export function parseLifecycle(doc: Record<string, unknown>): LifecycleRule[] {
  const rules = list(doc, 'Rule');
  if (rules.length === 0 || rules.length > 1000) {
    throw new S3Error('MalformedXML', 'A lifecycle configuration has between 1 and 1000 rules.');
  }
  const ids = new Set<string>();
  return rules.map((r, i) => {
    const rule = r as Record<string, unknown>;
    for (const unsupported of ['Transition', 'NoncurrentVersionExpiration', 'NoncurrentVersionTransition']) {
      if (rule[unsupported] !== undefined) {
        throw new S3Error(
          'NotImplemented',
          `Lifecycle ${unsupported} is not supported: this store has one storage class and no versions.`,
        );
      }
    }
    const filter = rule.Filter as Record<string, unknown> | undefined;
    if (
      filter &&
      (filter.Tag !== undefined ||
        filter.And !== undefined ||
        filter.ObjectSizeGreaterThan !== undefined ||
        filter.ObjectSizeLessThan !== undefined)
    ) {
      throw new S3Error(
        'NotImplemented',
        'Lifecycle filters by tag or size are not supported; filter by Prefix.',
      );
    }
    const prefix = filter ? text(filter, 'Prefix') : text(rule, 'Prefix');
    const expiration = rule.Expiration as Record<string, unknown> | undefined;
    if (expiration && text(expiration, 'Date')) {
      throw new S3Error('NotImplemented', 'Lifecycle Expiration by Date is not supported; use Days.');
    }
    const expirationDays = expiration ? days(text(expiration, 'Days'), 'Expiration Days') : null;
    const abortDays = days(
      text(rule.AbortIncompleteMultipartUpload, 'DaysAfterInitiation'),
      'DaysAfterInitiation',
    );
    if (expirationDays === null && abortDays === null) {
      throw new S3Error(
        'MalformedXML',
        'Each lifecycle rule needs an Expiration (Days) or AbortIncompleteMultipartUpload action.',
      );
    }
    const status = text(rule, 'Status');
    if (status !== 'Enabled' && status !== 'Disabled') {
      throw new S3Error('MalformedXML', "A lifecycle rule's Status is Enabled or Disabled.");
    }
    const id = text(rule, 'ID') || `rule-${i + 1}`;
    if (ids.has(id))
      throw new S3Error('InvalidArgument', 'Rule ID must be unique. Found same ID for more than one rule.');
    ids.add(id);
    return { id, prefix, enabled: status === 'Enabled', expirationDays, abortDays };
  });
}

export function lifecycleXml(rules: LifecycleRule[]): XmlObject {
  return {
    Rule: rules.map((r) => ({
      ID: r.id,
      Filter: { Prefix: r.prefix },
      Status: r.enabled ? 'Enabled' : 'Disabled',
      Expiration: r.expirationDays === null ? undefined : { Days: r.expirationDays },
      AbortIncompleteMultipartUpload: r.abortDays === null ? undefined : { DaysAfterInitiation: r.abortDays },
    })),
  };
}

/** Applies every bucket's rules once; returns what it removed. `dayMs` is a day (shorter in tests). */
export async function sweepLifecycle(
  store: Store,
  now: number,
  dayMs: number,
): Promise<{ objects: number; uploads: number }> {
  let objects = 0;
  let uploads = 0;
  for (const bucket of store.buckets.keys()) {
    const stored = store.meta.lifecycle(bucket);
    if (!stored) continue;
    for (const rule of JSON.parse(stored) as LifecycleRule[]) {
      if (!rule.enabled) continue;
      if (rule.expirationDays !== null) {
        const before = now - rule.expirationDays * dayMs;
        for (;;) {
          const batch = store.meta.objectsOlderThan(bucket, rule.prefix, before, 500);
          if (batch.length === 0) break;
          const files = await store.meta.write(() =>
            batch.flatMap((o) => store.meta.deleteObject(bucket, o.key) ?? []),
          );
          await store.files.remove(files);
          objects += batch.length;
        }
      }
      if (rule.abortDays !== null) {
        for (const u of store.meta.uploadsInitiatedBefore(
          bucket,
          rule.prefix,
          now - rule.abortDays * dayMs,
        )) {
          await store.meta.write(() => store.meta.deleteUpload(u.uploadId));
          await store.files.removeDir(path.join('parts', u.uploadId));
          uploads++;
        }
      }
    }
  }
  return { objects, uploads };
}
