/** ListObjectsV2 and ListObjects (v1): prefix, delimiter, pagination, encoding-type=url. */
import { S3Error } from '../errors.js';
import type { Metadata, ObjectRecord } from '../metadata.js';
import { isoDate, sendXml } from '../respond.js';
import { uriEncode } from '../sigv4.js';
import type { XmlObject } from '../xml.js';
import type { OpContext } from './context.js';

export interface ListPage {
  contents: ObjectRecord[];
  prefixes: string[];
  truncated: boolean;
  /** The last key or common prefix returned: where the next page starts after. */
  last: string | null;
}

/** One page of keys after `after` (exclusive); keys sharing a prefix up to the delimiter roll up into one. */
export function listPage(
  meta: Metadata,
  bucket: string,
  prefix: string,
  delimiter: string,
  after: string | null,
  maxKeys: number,
): ListPage {
  const page: ListPage = { contents: [], prefixes: [], truncated: false, last: null };
  // Resuming after a common prefix skips everything under it.
  let rolledUp = delimiter && after?.startsWith(prefix) && after.endsWith(delimiter) ? after : null;
  let count = 0;
  for (const o of meta.iterateKeys(bucket, prefix, after)) {
    if (!o.key.startsWith(prefix)) break;
    if (rolledUp && o.key.startsWith(rolledUp)) continue;
    const at = delimiter ? o.key.indexOf(delimiter, prefix.length) : -1;
    if (count === maxKeys) {
      page.truncated = true;
      break;
    }
    count++;
    if (at >= 0) {
      rolledUp = o.key.slice(0, at + delimiter.length);
      page.prefixes.push(rolledUp);
      page.last = rolledUp;
    } else {
      page.contents.push(o);
      page.last = o.key;
    }
  }
  return page;
}

function maxKeysOf(value: string | undefined): number {
  if (value === undefined) return 1000;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new S3Error('InvalidArgument', 'max-keys must be a non-negative integer.');
  return Math.min(n, 1000);
}

function encoder(ctx: OpContext): (s: string) => string {
  const type = ctx.s3.params.get('encoding-type');
  if (type === undefined) return (s) => s;
  if (type !== 'url')
    throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request; use url.');
  return (s) => uriEncode(s, false);
}

function contentsXml(page: ListPage, enc: (s: string) => string, owner: XmlObject | null): XmlObject[] {
  return page.contents.map((o) => ({
    Key: enc(o.key),
    LastModified: isoDate(o.lastModified),
    ETag: `"${o.etag}"`,
    ChecksumAlgorithm: o.checksum?.algorithm,
    ChecksumType: o.checksum?.type,
    Size: o.size,
    Owner: owner,
    StorageClass: 'STANDARD',
  }));
}

export function listObjectsV2(ctx: OpContext): void {
  const p = ctx.s3.params;
  const enc = encoder(ctx);
  const prefix = p.get('prefix') ?? '';
  const delimiter = p.get('delimiter') ?? '';
  const maxKeys = maxKeysOf(p.get('max-keys'));
  const token = p.get('continuation-token');
  let after = p.get('start-after') || null;
  if (token !== undefined) {
    const decoded = Buffer.from(token, 'base64url').toString('utf8');
    if (!token || Buffer.from(decoded, 'utf8').toString('base64url') !== token) {
      throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect.');
    }
    after = decoded;
  }
  const page = listPage(ctx.store.meta, ctx.bucket, prefix, delimiter, after, maxKeys);
  const owner = p.get('fetch-owner') === 'true' ? ownerXml(ctx) : null;
  sendXml(ctx.res, 200, 'ListBucketResult', {
    Name: ctx.bucket,
    Prefix: enc(prefix),
    Delimiter: delimiter ? enc(delimiter) : undefined,
    MaxKeys: maxKeys,
    EncodingType: p.get('encoding-type'),
    KeyCount: page.contents.length + page.prefixes.length,
    IsTruncated: page.truncated,
    ContinuationToken: token,
    NextContinuationToken:
      page.truncated && page.last !== null ? Buffer.from(page.last, 'utf8').toString('base64url') : undefined,
    StartAfter: p.has('start-after') ? enc(p.get('start-after') ?? '') : undefined,
    Contents: contentsXml(page, enc, owner),
    CommonPrefixes: page.prefixes.map((cp) => ({ Prefix: enc(cp) })),
  });
}

export function listObjectsV1(ctx: OpContext): void {
  const p = ctx.s3.params;
  const enc = encoder(ctx);
  const prefix = p.get('prefix') ?? '';
  const delimiter = p.get('delimiter') ?? '';
  const maxKeys = maxKeysOf(p.get('max-keys'));
  const marker = p.get('marker') ?? '';
  const page = listPage(ctx.store.meta, ctx.bucket, prefix, delimiter, marker || null, maxKeys);
  sendXml(ctx.res, 200, 'ListBucketResult', {
    Name: ctx.bucket,
    Prefix: enc(prefix),
    Marker: enc(marker),
    NextMarker: page.truncated && page.last !== null ? enc(page.last) : undefined,
    MaxKeys: maxKeys,
    Delimiter: delimiter ? enc(delimiter) : undefined,
    EncodingType: p.get('encoding-type'),
    IsTruncated: page.truncated,
    Contents: contentsXml(page, enc, ownerXml(ctx)),
    CommonPrefixes: page.prefixes.map((cp) => ({ Prefix: enc(cp) })),
  });
}

function ownerXml(ctx: OpContext): XmlObject {
  return { ID: ctx.bucket, DisplayName: ctx.bucket };
}
