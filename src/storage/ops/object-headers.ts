/** The headers an object keeps (Content-Type, Cache-Control…, x-amz-meta-*, tags) and the ones its answers carry. */
import type { IncomingMessage } from 'node:http';
import { checksumHeader } from '../checksums.js';
import { S3Error } from '../errors.js';
import type { ObjectRecord } from '../metadata.js';
import { httpDate } from '../respond.js';
import { percentDecode } from '../sigv4.js';

const STORED = ['cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires'];
const MAX_META_BYTES = 2048;
const MAX_TAGS = 10;

export interface ObjectHeaders {
  contentType: string;
  headers: Record<string, string>;
  meta: Record<string, string>;
}

export function objectHeadersFrom(req: IncomingMessage): ObjectHeaders {
  const headers: Record<string, string> = {};
  for (const h of STORED) {
    let v = req.headers[h];
    if (typeof v !== 'string') continue;
    // aws-chunked is how the body travelled, not how the object is encoded.
    if (h === 'content-encoding')
      v = v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s && s !== 'aws-chunked')
        .join(',');
    if (v) headers[h] = v;
  }
  const meta: Record<string, string> = {};
  let metaBytes = 0;
  for (const [name, value] of Object.entries(req.headers)) {
    if (!name.startsWith('x-amz-meta-') || typeof value !== 'string') continue;
    const short = name.slice('x-amz-meta-'.length);
    meta[short] = value;
    metaBytes += short.length + value.length;
  }
  if (metaBytes > MAX_META_BYTES) {
    throw new S3Error(
      'InvalidArgument',
      'Your metadata headers exceed the maximum allowed metadata size of 2 KB.',
    );
  }
  return { contentType: req.headers['content-type'] || 'binary/octet-stream', headers, meta };
}

/** `x-amz-tagging: a=1&b=2` (URL-encoded). */
export function parseTaggingHeader(value: string | undefined): Array<[string, string]> {
  if (!value) return [];
  const tags: Array<[string, string]> = [];
  for (const part of value.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const k = percentDecode(eq < 0 ? part : part.slice(0, eq), true);
    const v = percentDecode(eq < 0 ? '' : part.slice(eq + 1), true);
    if (k === null || v === null)
      throw new S3Error('InvalidArgument', 'The x-amz-tagging header is not URL-encoded.');
    tags.push([k, v]);
  }
  return checkTags(tags);
}

export function checkTags(tags: Array<[string, string]>): Array<[string, string]> {
  if (tags.length > MAX_TAGS) throw new S3Error('InvalidArgument', 'Object tags cannot be greater than 10.');
  const seen = new Set<string>();
  for (const [k, v] of tags) {
    if (!k || k.length > 128 || v.length > 256) {
      throw new S3Error('InvalidArgument', 'A tag key must be 1-128 characters and its value at most 256.');
    }
    if (seen.has(k)) throw new S3Error('InvalidArgument', 'Cannot provide multiple Tags with the same key.');
    seen.add(k);
  }
  return tags;
}

/** Headers of GET/HEAD answers. The checksum only for a whole-object read with x-amz-checksum-mode: ENABLED. */
export function objectResponseHeaders(
  o: ObjectRecord,
  withChecksum: boolean,
): Record<string, string | number> {
  const h: Record<string, string | number> = {
    'content-type': o.contentType,
    etag: `"${o.etag}"`,
    'last-modified': httpDate(o.lastModified),
    'accept-ranges': 'bytes',
  };
  for (const [k, v] of Object.entries(o.headers)) h[k] = v;
  for (const [k, v] of Object.entries(o.meta)) h[`x-amz-meta-${k}`] = v;
  if (o.tags.length) h['x-amz-tagging-count'] = o.tags.length;
  if (withChecksum && o.checksum) {
    h[checksumHeader(o.checksum.algorithm)] = o.checksum.value;
    h['x-amz-checksum-type'] = o.checksum.type;
  }
  return h;
}
