/**
 * The store's HTTP server: parses where a request goes, answers CORS preflights (unsigned), authenticates the
 * rest, checks the signer may touch the bucket, dispatches, writes S3 error documents, logs one line each.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { authenticate, type Signer } from './auth.js';
import { S3Error } from './errors.js';
import { addCorsHeaders, preflight } from './ops/cors.js';
import { dispatch, SUBRESOURCES } from './ops/dispatch.js';
import { parseRequest, type S3Request } from './request.js';
import { sendError, toS3Error } from './respond.js';
import type { Store } from './store.js';

export type LogLine = (line: string) => void;

export function createStoreServer(store: Store, log: LogLine): http.Server {
  // No overall request deadline (a 5 GiB part on a slow link takes long), but a connection idle for two
  // minutes mid-request is dropped; headers must arrive within a minute (slow-loris).
  const server = http.createServer(
    { keepAliveTimeout: 30_000, requestTimeout: 0, headersTimeout: 60_000 },
    (req, res) => {
      handle(store, req, res, log);
    },
  );
  server.timeout = 120_000;
  return server;
}

function handle(store: Store, req: IncomingMessage, res: ServerResponse, log: LogLine): void {
  const started = performance.now();
  let s3: S3Request | null = null;
  res.on('finish', () => {
    const ms = (performance.now() - started).toFixed(1);
    // Bytes of the body received (uploads) or sent (downloads), from the headers: a 'data' listener to count
    // them would put every body in flowing mode before its operation reads it.
    const bytes =
      Number(req.headers['x-amz-decoded-content-length'] ?? req.headers['content-length'] ?? 0) ||
      Number(res.getHeader('content-length') ?? 0);
    log(`${req.method} ${s3?.bucket ?? '-'} ${logSafe(s3?.key ?? '-')} ${res.statusCode} ${bytes} ${ms}ms`);
  });
  const fail = (err: unknown) => {
    const e = toS3Error(err);
    if (e.code === 'InternalError')
      log(`store: internal error on ${req.method} ${req.url}: ${(err as Error)?.stack ?? err}`);
    // An unread body would be drained just to keep the connection; close it instead.
    if (!req.complete) res.shouldKeepAlive = false;
    sendError(res, e, (req.url ?? '/').split('?')[0], req.method === 'HEAD');
  };
  try {
    if (req.url === '/_berth/status' && req.method === 'GET') {
      const body = JSON.stringify({ generation: store.config.generation });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    s3 = parseRequest(req, store.config);
    if (req.method === 'OPTIONS') {
      req.resume();
      preflight(store, req, res, s3);
      return;
    }
    addCorsHeaders(store, req, res, s3);
    const now = Date.now();
    const signer = authenticate(req, s3, { region: store.config.region, keys: store.keys, now });
    authorize(store, s3, signer, req.method ?? 'GET');
    dispatch({ store, req, res, s3, signer, bucket: s3.bucket ?? '', key: s3.key ?? '', now }).catch(fail);
  } catch (err) {
    fail(err);
  }
}

/** A key may hold spaces, newlines, anything: one request stays one log line. */
function logSafe(key: string): string {
  let out = '';
  for (const ch of key) {
    const c = ch.charCodeAt(0);
    out += c <= 0x20 || c === 0x7f || ch === '%' ? `%${c.toString(16).padStart(2, '0').toUpperCase()}` : ch;
  }
  return out;
}

/** A key pair works for its own bucket only; unsigned requests may only read objects of a public bucket. */
function authorize(store: Store, s3: S3Request, signer: Signer | null, method: string): void {
  if (s3.website) {
    if (method !== 'GET' && method !== 'HEAD') {
      throw new S3Error('MethodNotAllowed', "A public bucket's site only answers GET and HEAD.");
    }
    if (!s3.bucket || !store.buckets.get(s3.bucket)?.public) {
      throw new S3Error('NoSuchBucket', 'The specified bucket does not exist.');
    }
    return;
  }
  if (signer) {
    if (s3.bucket !== null && s3.bucket !== signer.bucket.name) {
      throw new S3Error('AccessDenied', 'Access Denied: this key pair belongs to another bucket.');
    }
    return;
  }
  if (s3.bucket === null)
    throw new S3Error('AccessDenied', 'Access Denied: sign the request to list your bucket.');
  const bucket = store.buckets.get(s3.bucket);
  if (!bucket)
    throw new S3Error('NoSuchBucket', 'The specified bucket does not exist.', { BucketName: s3.bucket });
  const objectRead =
    (method === 'GET' || method === 'HEAD') && s3.key !== null && !SUBRESOURCES.some((n) => s3.params.has(n));
  if (!bucket.public || !objectRead) {
    throw new S3Error('AccessDenied', "Access Denied: sign the request with this bucket's key pair.");
  }
}
