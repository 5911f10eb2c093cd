/**
 * AWS Signature Version 4 as S3 uses it: canonical request, string to sign, signing key, and the chained
 * signatures of aws-chunked uploads. Pure functions over strings; request handling lives in auth.ts.
 */
import crypto from 'node:crypto';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export function sha256Hex(data: string | Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return crypto.createHmac('sha256', key).update(data).digest();
}

/** RFC 3986 unreserved characters stay, everything else is %XX of its UTF-8 bytes; `/` stays in paths. */
export function uriEncode(s: string, encodeSlash: boolean): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(c) || (c === '/' && !encodeSlash)) out += c;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Decodes %XX (and, in queries, `+` as space); null when the encoding is broken. */
export function percentDecode(s: string, plusIsSpace = false): string | null {
  try {
    return decodeURIComponent(plusIsSpace ? s.replace(/\+/g, ' ') : s);
  } catch {
    return null;
  }
}

/** The path as the client encoded its key (S3 does not normalise `.` or `//`). */
export function canonicalUri(rawPath: string): string | null {
  const decoded = percentDecode(rawPath);
  return decoded === null ? null : uriEncode(decoded, false);
}

export function parseQuery(rawQuery: string): Array<[string, string]> | null {
  const pairs: Array<[string, string]> = [];
  if (!rawQuery) return pairs;
  for (const part of rawQuery.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = percentDecode(eq < 0 ? part : part.slice(0, eq), true);
    const value = percentDecode(eq < 0 ? '' : part.slice(eq + 1), true);
    if (name === null || value === null) return null;
    pairs.push([name, value]);
  }
  return pairs;
}

export function canonicalQuery(pairs: Array<[string, string]>, exclude?: string): string {
  return pairs
    .filter(([n]) => n !== exclude)
    .map(([n, v]) => [uriEncode(n, true), uriEncode(v, true)])
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([n, v]) => `${n}=${v}`)
    .join('&');
}

export function canonicalHeaderValue(value: string): string {
  return value.trim().replace(/\s+/g, ' ');
}

export interface CanonicalRequestInput {
  method: string;
  canonicalUri: string;
  canonicalQuery: string;
  /** Lower-case name → value (several values already joined with ','). */
  headers: Map<string, string>;
  signedHeaders: string[];
  payloadHash: string;
}

export function canonicalRequest(r: CanonicalRequestInput): string {
  const headerLines = r.signedHeaders
    .map((h) => `${h}:${canonicalHeaderValue(r.headers.get(h) ?? '')}\n`)
    .join('');
  return [
    r.method,
    r.canonicalUri,
    r.canonicalQuery,
    headerLines,
    r.signedHeaders.join(';'),
    r.payloadHash,
  ].join('\n');
}

export function credentialScope(date: string, region: string, service: string): string {
  return `${date}/${region}/${service}/aws4_request`;
}

export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`;
}

const keyCache = new Map<string, Buffer>();

export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const id = `${secret}\0${date}\0${region}\0${service}`;
  const cached = keyCache.get(id);
  if (cached) return cached;
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
  if (keyCache.size > 1000) keyCache.clear();
  keyCache.set(id, key);
  return key;
}

export function signHex(key: Buffer, toSign: string): string {
  return hmac(key, toSign).toString('hex');
}

/** Constant-time comparison of two hex signatures. */
export function signaturesEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && crypto.timingSafeEqual(ab, bb);
}

/** The string each chunk of STREAMING-AWS4-HMAC-SHA256-PAYLOAD signs, chained on the previous signature. */
export function chunkStringToSign(
  amzDate: string,
  scope: string,
  previous: string,
  chunkSha256Hex: string,
): string {
  return `${ALGORITHM}-PAYLOAD\n${amzDate}\n${scope}\n${previous}\n${EMPTY_SHA256}\n${chunkSha256Hex}`;
}

/** The string the trailing headers of a signed streaming upload sign. */
export function trailerStringToSign(
  amzDate: string,
  scope: string,
  previous: string,
  trailerSha256Hex: string,
): string {
  return `${ALGORITHM}-TRAILER\n${amzDate}\n${scope}\n${previous}\n${trailerSha256Hex}`;
}

export interface AuthorizationHeader {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

/** `AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=a;b, Signature=hex`. */
export function parseAuthorization(value: string): AuthorizationHeader | null {
  if (!value.startsWith(`${ALGORITHM} `)) return null;
  const fields = new Map<string, string>();
  for (const part of value.slice(ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = parseCredential(fields.get('Credential') ?? '');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!credential || !signedHeaders || !signature) return null;
  return { ...credential, signedHeaders: signedHeaders.split(';'), signature };
}

/** `AK/20130524/us-east-1/s3/aws4_request` (the access key id itself may not contain `/`). */
export function parseCredential(
  value: string,
): { accessKeyId: string; date: string; region: string; service: string } | null {
  const parts = value.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request' || !/^\d{8}$/.test(parts[1])) return null;
  return { accessKeyId: parts[0], date: parts[1], region: parts[2], service: parts[3] };
}

/** `20130524T000000Z` → epoch ms, or null. */
export function parseAmzDate(value: string): number | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return null;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
}
