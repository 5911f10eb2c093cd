/**
 * Who signed a request: SigV4 in the Authorization header or in a presigned URL, checked against the one key
 * pair of each bucket in the config. Also says how the body must be verified (payload hash, chunk signatures).
 */
import type { IncomingMessage } from 'node:http';
import { S3Error } from './errors.js';
import {
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  credentialScope,
  parseAmzDate,
  parseAuthorization,
  parseCredential,
  signaturesEqual,
  signHex,
  signingKey,
  stringToSign,
} from './sigv4.js';
import type { StoreBucket } from './store-config.js';

/** How far a signed request's time may be from ours (S3's own bound). */
export const MAX_SKEW_MS = 15 * 60_000;
const MAX_PRESIGN_EXPIRES_S = 7 * 24 * 3600;

export type PayloadCheck =
  | { kind: 'unsigned' }
  | { kind: 'sha256'; expected: string }
  | { kind: 'unsigned-trailer' }
  | { kind: 'signed-chunks'; trailer: boolean; seed: string; key: Buffer; amzDate: string; scope: string };

export interface Signer {
  bucket: StoreBucket;
  payload: PayloadCheck;
}

export interface RequestTarget {
  rawPath: string;
  query: Array<[string, string]>;
}

export interface AuthContext {
  region: string;
  keys: ReadonlyMap<string, StoreBucket>;
  now: number;
}

/** Lower-case header name → its values joined with ',' (SigV4's canonical form of repeated headers). */
export function headerMap(req: IncomingMessage): Map<string, string> {
  const m = new Map<string, string>();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    const prev = m.get(name);
    m.set(name, prev === undefined ? raw[i + 1].trim() : `${prev},${raw[i + 1].trim()}`);
  }
  return m;
}

function queryValue(query: Array<[string, string]>, name: string): string | undefined {
  return query.find(([n]) => n === name)?.[1];
}

/** null: the request carries no signature at all (anonymous). Throws S3Error when a signature is wrong. */
export function authenticate(req: IncomingMessage, target: RequestTarget, ctx: AuthContext): Signer | null {
  const authorization = req.headers.authorization;
  const presigned = queryValue(target.query, 'X-Amz-Signature') !== undefined;
  if (authorization && presigned) {
    throw new S3Error('InvalidArgument', 'Send either an Authorization header or a presigned URL, not both.');
  }
  if (authorization) return fromHeader(req, authorization, target, ctx);
  if (presigned) return fromQuery(req, target, ctx);
  if (queryValue(target.query, 'AWSAccessKeyId') !== undefined || queryValue(target.query, 'Signature')) {
    throw new S3Error('AccessDenied', 'Only AWS Signature Version 4 is supported; sign with SigV4.');
  }
  return null;
}

function lookupKey(accessKeyId: string, ctx: AuthContext): StoreBucket {
  const bucket = ctx.keys.get(accessKeyId);
  if (!bucket) {
    throw new S3Error('InvalidAccessKeyId', 'The access key ID you provided does not exist in our records.', {
      AWSAccessKeyId: accessKeyId,
    });
  }
  return bucket;
}

function checkScope(region: string, service: string, ctx: AuthContext): void {
  if (service !== 's3') {
    throw new S3Error(
      'AuthorizationHeaderMalformed',
      `The credential scope names service '${service}'; use 's3'.`,
    );
  }
  // us-east-1 is what most tools sign with when told no region; the signature covers the region either way.
  if (region !== ctx.region && region !== 'us-east-1') {
    throw new S3Error(
      'AuthorizationHeaderMalformed',
      `The authorization header is malformed; the region '${region}' is wrong; expecting '${ctx.region}'.`,
      { Region: ctx.region },
    );
  }
}

function fromHeader(
  req: IncomingMessage,
  authorization: string,
  target: RequestTarget,
  ctx: AuthContext,
): Signer {
  if (authorization.startsWith('AWS ')) {
    throw new S3Error('AccessDenied', 'Only AWS Signature Version 4 is supported; sign with SigV4.');
  }
  const auth = parseAuthorization(authorization);
  if (!auth) {
    throw new S3Error(
      'AuthorizationHeaderMalformed',
      'The Authorization header is not a valid SigV4 header.',
    );
  }
  checkScope(auth.region, auth.service, ctx);
  const headers = headerMap(req);
  const amzDate = headers.get('x-amz-date') ?? '';
  const time = parseAmzDate(amzDate);
  if (time === null || amzDate.slice(0, 8) !== auth.date) {
    throw new S3Error(
      'AccessDenied',
      'The request needs a valid x-amz-date header matching its credential date.',
    );
  }
  if (Math.abs(ctx.now - time) > MAX_SKEW_MS) {
    throw new S3Error(
      'RequestTimeTooSkewed',
      'The difference between the request time and the server time is too large.',
    );
  }
  if (!auth.signedHeaders.includes('host')) {
    throw new S3Error('AccessDenied', 'The Host header must be signed.');
  }
  const contentSha = headers.get('x-amz-content-sha256');
  if (!contentSha) {
    throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256.');
  }
  const bucket = lookupKey(auth.accessKeyId, ctx);
  const uri = canonicalUri(target.rawPath);
  if (uri === null) throw new S3Error('InvalidArgument', 'The request path has a broken percent-encoding.');
  const canonical = canonicalRequest({
    method: req.method ?? 'GET',
    canonicalUri: uri,
    canonicalQuery: canonicalQuery(target.query),
    headers,
    signedHeaders: auth.signedHeaders,
    payloadHash: contentSha,
  });
  const scope = credentialScope(auth.date, auth.region, auth.service);
  const key = signingKey(bucket.secretAccessKey, auth.date, auth.region, auth.service);
  const expected = signHex(key, stringToSign(amzDate, scope, canonical));
  if (!signaturesEqual(expected, auth.signature)) {
    throw new S3Error(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      { AWSAccessKeyId: auth.accessKeyId },
    );
  }
  return { bucket, payload: payloadCheck(contentSha, auth.signature, key, amzDate, scope) };
}

function payloadCheck(
  contentSha: string,
  seed: string,
  key: Buffer,
  amzDate: string,
  scope: string,
): PayloadCheck {
  switch (contentSha) {
    case 'UNSIGNED-PAYLOAD':
      return { kind: 'unsigned' };
    case 'STREAMING-UNSIGNED-PAYLOAD-TRAILER':
      return { kind: 'unsigned-trailer' };
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD':
      return { kind: 'signed-chunks', trailer: false, seed, key, amzDate, scope };
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER':
      return { kind: 'signed-chunks', trailer: true, seed, key, amzDate, scope };
  }
  if (/^[0-9a-f]{64}$/.test(contentSha)) return { kind: 'sha256', expected: contentSha };
  throw new S3Error(
    'InvalidArgument',
    `x-amz-content-sha256 '${contentSha}' is neither a SHA-256 nor a known mode.`,
  );
}

function fromQuery(req: IncomingMessage, target: RequestTarget, ctx: AuthContext): Signer {
  const q = (name: string) => queryValue(target.query, name) ?? '';
  if (q('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') {
    throw new S3Error('AccessDenied', 'X-Amz-Algorithm must be AWS4-HMAC-SHA256.');
  }
  const credential = parseCredential(q('X-Amz-Credential'));
  const amzDate = q('X-Amz-Date');
  const time = parseAmzDate(amzDate);
  const expires = Number(q('X-Amz-Expires'));
  const signedHeaders = q('X-Amz-SignedHeaders').split(';');
  if (!credential || time === null || amzDate.slice(0, 8) !== credential.date) {
    throw new S3Error(
      'AuthorizationHeaderMalformed',
      'The presigned URL has a malformed X-Amz-Credential or X-Amz-Date.',
    );
  }
  if (!Number.isInteger(expires) || expires < 1 || expires > MAX_PRESIGN_EXPIRES_S) {
    throw new S3Error('AccessDenied', 'X-Amz-Expires must be a number of seconds between 1 and 604800.');
  }
  checkScope(credential.region, credential.service, ctx);
  // Unsigned, the Host would let a URL be replayed virtual-hosted-style, naming another key than the one signed.
  if (!signedHeaders.includes('host')) {
    throw new S3Error('AccessDenied', 'The Host header must be signed (X-Amz-SignedHeaders lacks host).');
  }
  if (ctx.now > time + expires * 1000) throw new S3Error('AccessDenied', 'Request has expired.');
  if (time - ctx.now > MAX_SKEW_MS) throw new S3Error('AccessDenied', 'Request is not yet valid.');
  const bucket = lookupKey(credential.accessKeyId, ctx);
  const headers = headerMap(req);
  const uri = canonicalUri(target.rawPath);
  if (uri === null) throw new S3Error('InvalidArgument', 'The request path has a broken percent-encoding.');
  const contentSha = headers.get('x-amz-content-sha256');
  const canonical = canonicalRequest({
    method: req.method ?? 'GET',
    canonicalUri: uri,
    canonicalQuery: canonicalQuery(target.query, 'X-Amz-Signature'),
    headers,
    signedHeaders,
    payloadHash:
      contentSha && signedHeaders.includes('x-amz-content-sha256') ? contentSha : 'UNSIGNED-PAYLOAD',
  });
  const scope = credentialScope(credential.date, credential.region, credential.service);
  const key = signingKey(bucket.secretAccessKey, credential.date, credential.region, credential.service);
  const expected = signHex(key, stringToSign(amzDate, scope, canonical));
  if (!signaturesEqual(expected, q('X-Amz-Signature'))) {
    throw new S3Error(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      { AWSAccessKeyId: credential.accessKeyId },
    );
  }
  return { bucket, payload: { kind: 'unsigned' } };
}
