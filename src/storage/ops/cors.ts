/**
 * Put/Get/DeleteBucketCors, the unsigned preflight (OPTIONS) they govern, and the CORS headers of actual
 * requests from a browser. The rules are the bucket's own: only its key pair reads or changes them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  CORS_METHODS,
  type CorsAsk,
  type CorsRule,
  corsHeaders,
  corsXml,
  MAX_CORS_DOCUMENT,
  matchCors,
  parseCors,
  requestedHeaders,
} from '../cors.js';
import { S3Error } from '../errors.js';
import type { S3Request } from '../request.js';
import { sendEmpty, sendXml } from '../respond.js';
import type { Store } from '../store.js';
import { parseXmlBody } from '../xml.js';
import { receiveDocument } from './body.js';
import { type OpContext, signed } from './context.js';

/** Read and parsed once per bucket, not on every request; a change forgets the entry (see `changeRules`). */
function rulesOf(store: Store, bucket: string): CorsRule[] | null {
  let rules = store.corsRules.get(bucket);
  if (rules === undefined) {
    const stored = store.meta.cors(bucket);
    rules = stored ? (JSON.parse(stored) as CorsRule[]) : null;
    store.corsRules.set(bucket, rules);
  }
  return rules;
}

/**
 * Reads are synchronous, so one made before the commit may cache the old rules; forgetting them once the write
 * settled (whether it succeeded or not) makes the next read see what the database holds.
 */
async function changeRules(ctx: OpContext, rules: CorsRule[] | null): Promise<void> {
  try {
    await ctx.store.meta.write(() => ctx.store.meta.setCors(ctx.bucket, rules && JSON.stringify(rules)));
  } finally {
    ctx.store.corsRules.delete(ctx.bucket);
  }
}

export function getBucketCors(ctx: OpContext): void {
  const rules = rulesOf(ctx.store, ctx.bucket);
  if (!rules) {
    throw new S3Error('NoSuchCORSConfiguration', 'The CORS configuration does not exist.', {
      BucketName: ctx.bucket,
    });
  }
  sendXml(ctx.res, 200, 'CORSConfiguration', corsXml(rules));
}

export async function putBucketCors(ctx: OpContext): Promise<void> {
  const body = await receiveDocument(ctx.req, ctx.store.files, signed(ctx).payload);
  if (body.length > MAX_CORS_DOCUMENT) {
    throw new S3Error(
      'MalformedXML',
      'The CORS configuration is larger than 64 KB; send fewer or shorter rules.',
    );
  }
  const rules = parseCors(parseXmlBody(body, 'CORSConfiguration'));
  await changeRules(ctx, rules);
  sendEmpty(ctx.res, 200);
}

export async function deleteBucketCors(ctx: OpContext): Promise<void> {
  await changeRules(ctx, null);
  sendEmpty(ctx.res, 204);
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
};

/**
 * A browser's preflight, unsigned by design (browsers never sign an OPTIONS): answered from this bucket's rules
 * only, 200 with what the first matching rule allows, else 403 as S3 answers it.
 */
export function preflight(store: Store, req: IncomingMessage, res: ServerResponse, s3: S3Request): void {
  const origin = header(req, 'origin');
  if (!origin) {
    throw new S3Error('BadRequest', 'Insufficient information. Origin request header needed.');
  }
  const method = header(req, 'access-control-request-method');
  if (!method || !CORS_METHODS.includes(method)) {
    throw new S3Error(
      'BadRequest',
      `Invalid Access-Control-Request-Method: ${method ?? 'null'} (use GET, PUT, POST, DELETE or HEAD).`,
    );
  }
  const resource = { Method: method, ResourceType: s3.key === null ? 'BUCKET' : 'OBJECT' };
  if (s3.bucket === null) {
    throw new S3Error('AccessForbidden', 'CORSResponse: This CORS request is not allowed.', resource);
  }
  if (!store.buckets.has(s3.bucket)) {
    throw new S3Error('NoSuchBucket', 'The specified bucket does not exist.', { BucketName: s3.bucket });
  }
  const rules = rulesOf(store, s3.bucket);
  if (!rules) {
    throw new S3Error('AccessForbidden', 'CORSResponse: CORS is not enabled for this bucket.', resource);
  }
  const ask: CorsAsk = {
    origin,
    method,
    headers: requestedHeaders(header(req, 'access-control-request-headers')),
  };
  const rule = matchCors(rules, ask);
  if (!rule) {
    throw new S3Error(
      'AccessForbidden',
      "CORSResponse: This CORS request is not allowed. This is usually because the evaluation of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
      resource,
    );
  }
  sendEmpty(res, 200, corsHeaders(rule, ask, true));
}

/**
 * An actual request's CORS headers, set before it is authenticated so that its answer carries them whatever it
 * is (an error included, as S3 does). A bucket with rules always answers `Vary: Origin`: a shared cache (the
 * edge's) must never hand one origin's answer, or an answer without CORS headers, to another origin.
 */
export function addCorsHeaders(store: Store, req: IncomingMessage, res: ServerResponse, s3: S3Request): void {
  if (s3.bucket === null || !store.buckets.has(s3.bucket)) return;
  const rules = rulesOf(store, s3.bucket);
  if (!rules) return;
  const origin = header(req, 'origin');
  const ask: CorsAsk = { origin: origin ?? '', method: req.method ?? 'GET', headers: [] };
  const rule = origin ? matchCors(rules, ask) : null;
  if (!rule) {
    res.setHeader('vary', 'Origin');
    return;
  }
  for (const [name, value] of Object.entries(corsHeaders(rule, ask, false))) res.setHeader(name, value);
}
