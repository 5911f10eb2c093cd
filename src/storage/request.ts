/**
 * Where a request goes: website host (a public bucket's own host), virtual-hosted-style (`<bucket>.<storage
 * host>`) or path-style (`/<bucket>/<key>`); the bucket, the key (decoded, checked) and the query.
 */
import type { IncomingMessage } from 'node:http';
import { S3Error } from './errors.js';
import { parseQuery, percentDecode } from './sigv4.js';
import type { StoreConfig } from './store-config.js';

export interface S3Request {
  /** The raw path as sent (what SigV4 signed). */
  rawPath: string;
  query: Array<[string, string]>;
  /** Query names present (sub-resources like `uploads`, `tagging`), first value of each. */
  params: Map<string, string>;
  bucket: string | null;
  key: string | null;
  /** A public bucket's website host: unsigned GET/HEAD only, index.html for `/`. */
  website: boolean;
}

const MAX_KEY_BYTES = 1024;

export function hostName(req: IncomingMessage): string {
  const host = (req.headers.host ?? '').toLowerCase();
  // [v6]:port, name:port
  return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
}

export function checkKey(key: string): string {
  if (key.includes('\0')) throw new S3Error('InvalidArgument', 'Object keys cannot contain a NUL character.');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new S3Error('KeyTooLongError', 'Your key is too long; keys are at most 1024 bytes of UTF-8.');
  }
  return key;
}

export function parseRequest(req: IncomingMessage, config: StoreConfig): S3Request {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const query = parseQuery(q < 0 ? '' : url.slice(q + 1));
  if (query === null || !rawPath.startsWith('/')) {
    throw new S3Error('InvalidArgument', 'The request URL has a broken percent-encoding.');
  }
  const params = new Map<string, string>();
  for (const [n, v] of query) if (!params.has(n)) params.set(n, v);
  const path = percentDecode(rawPath);
  if (path === null) throw new S3Error('InvalidArgument', 'The request path has a broken percent-encoding.');
  const host = hostName(req);

  const websiteBucket = config.publicHosts[host];
  if (websiteBucket !== undefined) {
    return { rawPath, query, params, bucket: websiteBucket, key: checkKey(path.slice(1)), website: true };
  }
  for (const storageHost of config.storageHosts) {
    if (host.endsWith(`.${storageHost}`)) {
      const bucket = host.slice(0, -storageHost.length - 1);
      const key = path.slice(1);
      return { rawPath, query, params, bucket, key: key === '' ? null : checkKey(key), website: false };
    }
  }
  const slash = path.indexOf('/', 1);
  const bucket = slash < 0 ? path.slice(1) : path.slice(1, slash);
  const key = slash < 0 ? '' : path.slice(slash + 1);
  return {
    rawPath,
    query,
    params,
    bucket: bucket || null,
    key: key === '' ? null : checkKey(key),
    website: false,
  };
}
