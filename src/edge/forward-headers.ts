/**
 * What the edge forwards of a request's and a response's headers (pure): hop-by-hop headers removed (never the
 * framing: the edge writes its own), X-Forwarded-For/-Proto/-Host set, X-Request-Id kept or added.
 */

import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { normalizeHost } from './router.js';

/** How the request body is sent upstream. */
export const BODY_NONE = 0;
export const BODY_LENGTH = 1; // the client's Content-Length is forwarded, bytes as they come
export const BODY_CHUNKED = 2; // the client sent chunked: re-chunked upstream

/** What one pass over a request's raw headers found. */
export interface HeaderScan {
  raw: string[];
  /** The first Host header ('' without one), and its routing key (normalizeHost). */
  host: string;
  /** More than one Host header: refused (400), as the app might route by another one than the edge. */
  hosts: number;
  hostKey: string;
  /** X-Forwarded-For values the client sent, joined. */
  xff: string;
  bodyMode: number;
  /** The Content-Length the client declared (checked by the server side), forwarded by the edge itself. */
  length: string | null;
  connection: string | null;
  /** The header lines forwarded upstream (hop-by-hop and rebuilt ones dropped). */
  lines: string;
  requestId: string | null;
  /** If-None-Match values, joined. */
  inm: string | null;
  /** The response may be stored in / served from the cache (GET/HEAD without Authorization). */
  cacheable: boolean;
  /** The client did not ask to bypass the cache (no-cache / no-store) nor for a Range of the object. */
  lookup: boolean;
}

/** Cache-Control / Pragma values that ask to bypass the cache (module constants: a literal is a new object per use). */
const NO_CACHE = /no-cache|no-store/i;
const PRAGMA_NO_CACHE = /no-cache/i;

/** One pass over the raw headers that builds the upstream header lines and notes what routing needs. */
export function scanHeaders(method: string, raw: string[]): HeaderScan {
  const n = raw.length;
  let host = '';
  let hosts = 0;
  let xff = '';
  let bodyMode = BODY_NONE;
  let length: string | null = null;
  let connection: string | null = null;
  let lines = '';
  let requestId: string | null = null;
  let inm: string | null = null;
  let cacheable = method === 'GET' || method === 'HEAD';
  let lookup = cacheable;
  for (let i = 0; i < n; i += 2) {
    const k = raw[i];
    const kl = k.length;
    if (kl === 4 && k.toLowerCase() === 'host') {
      if (hosts++ === 0) host = raw[i + 1];
    } else if (kl === 12 && requestId === null && k.toLowerCase() === 'x-request-id') requestId = raw[i + 1];
    else if (kl === 13) {
      const l = k.toLowerCase();
      if (l === 'authorization') cacheable = false;
      else if (l === 'cache-control' && NO_CACHE.test(raw[i + 1])) lookup = false;
      else if (l === 'if-none-match') inm = inm === null ? raw[i + 1] : `${inm}, ${raw[i + 1]}`;
    } else if (kl === 6 && k.toLowerCase() === 'pragma' && PRAGMA_NO_CACHE.test(raw[i + 1])) lookup = false;
    // A stored entry is a whole 200: a range of it goes to the upstream, which answers the 206.
    else if (kl === 5 && k.toLowerCase() === 'range') lookup = false;
    else if (kl === 15 && k.toLowerCase() === 'x-forwarded-for') {
      xff = xff === '' ? raw[i + 1] : `${xff}, ${raw[i + 1]}`;
      continue;
    } else if (kl === 14 || kl === 17) {
      // Framing: the edge writes its own (Content-Length below, or chunked), never the client's lines.
      const l = k.toLowerCase();
      if (l === 'content-length') {
        if (bodyMode === BODY_NONE && length === null) {
          length = raw[i + 1];
          if (length !== '0') bodyMode = BODY_LENGTH;
        }
        continue;
      }
      if (l === 'transfer-encoding') bodyMode = BODY_CHUNKED;
    } else if (kl === 10 && k.toLowerCase() === 'connection') connection = raw[i + 1];
    if (dropRequestHeader(k)) continue;
    lines += `${k}: ${raw[i + 1]}\r\n`;
  }
  const hostKey = normalizeHost(host);
  if (bodyMode === BODY_CHUNKED) length = null;
  return {
    raw,
    host,
    hosts,
    hostKey,
    xff,
    bodyMode,
    length,
    connection,
    lines,
    requestId,
    inm,
    cacheable,
    lookup,
  };
}

/** Request headers never forwarded (hop-by-hop, RFC 9110 §7.6.1) or rebuilt by the edge. */
export function dropRequestHeader(k: string): boolean {
  switch (k.length) {
    case 2:
      return k.toLowerCase() === 'te';
    case 6:
      return k.toLowerCase() === 'expect'; // the edge's own server already answered 100-continue
    case 7: {
      const l = k.toLowerCase();
      return l === 'upgrade' || l === 'trailer';
    }
    case 10: {
      const l = k.toLowerCase();
      return l === 'connection' || l === 'keep-alive';
    }
    case 15:
      return k.toLowerCase() === 'x-forwarded-for';
    case 16: {
      const l = k.toLowerCase();
      return l === 'x-forwarded-host' || l === 'proxy-connection';
    }
    case 17: {
      const l = k.toLowerCase();
      return l === 'transfer-encoding' || l === 'x-forwarded-proto';
    }
    case 19:
      return k.toLowerCase() === 'proxy-authorization';
    default:
      return false;
  }
}

/**
 * Names a Connection header may not remove: the framing (the edge writes its own for what it forwards) and
 * Host. Listing Content-Length there once made the edge drop the length but forward the body, which the app
 * then read as a second request (smuggling).
 */
const NEVER_HOP_BY_HOP = new Set([
  'keep-alive',
  'close',
  'upgrade',
  'content-length',
  'transfer-encoding',
  'host',
]);

export function isContentLength(k: string): boolean {
  return k.length === 14 && k.toLowerCase() === 'content-length';
}

/** Tokens of a Connection header other than keep-alive/close: extra hop-by-hop header names. */
export function connectionTokens(v: string): Set<string> | null {
  if (v.length <= 10) {
    const l = v.toLowerCase(); // the usual values, without splitting
    if (l === 'keep-alive' || l === 'close' || l === 'upgrade') return null;
  }
  let set: Set<string> | null = null;
  for (const part of v.split(',')) {
    const t = part.trim().toLowerCase();
    if (t === '' || NEVER_HOP_BY_HOP.has(t)) continue;
    set ??= new Set();
    set.add(t);
  }
  return set;
}

/**
 * X-Request-Id for requests that arrive without one: unique per edge process (random prefix + counter),
 * cheap enough for the hot path, unlike a UUID per request.
 */
const REQUEST_ID_PREFIX = randomBytes(6).toString('hex');
let requestCounter = 0;
export function nextRequestId(): string {
  requestCounter = (requestCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${REQUEST_ID_PREFIX}-${requestCounter.toString(36)}`;
}

/** The client's address as X-Forwarded-For carries it (IPv4-mapped IPv6 as plain IPv4). */
export function clientAddress(req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

/**
 * The request head sent upstream: the client's header lines without hop-by-hop ones (and without the names its
 * Connection header lists), then X-Forwarded-For (appended), X-Request-Id (newRequestId, when the client sent
 * none), X-Forwarded-Proto and -Host, and the edge's own framing.
 */
export function upstreamHead(
  sc: HeaderScan,
  method: string,
  url: string,
  addr: string,
  proto: string,
  newRequestId: string | null,
): string {
  let lines = sc.lines;
  if (sc.connection !== null) {
    const extra = connectionTokens(sc.connection);
    if (extra !== null) {
      // Names listed in Connection are hop-by-hop too (rare): rebuild without them.
      lines = '';
      const raw = sc.raw;
      for (let i = 0; i < raw.length; i += 2) {
        const k = raw[i];
        if (dropRequestHeader(k) || extra.has(k.toLowerCase()) || isContentLength(k)) continue;
        lines += `${k}: ${raw[i + 1]}\r\n`;
      }
    }
  }
  const xff = sc.xff;
  return (
    `${method} ${url} HTTP/1.1\r\n${lines}` +
    `x-forwarded-for: ${xff === '' ? addr : `${xff}, ${addr}`}\r\n` +
    (newRequestId === null ? '' : `x-request-id: ${newRequestId}\r\n`) +
    `x-forwarded-proto: ${proto}\r\nx-forwarded-host: ${sc.host}\r\n` +
    (sc.bodyMode === BODY_CHUNKED
      ? 'transfer-encoding: chunked\r\n\r\n'
      : sc.length !== null
        ? `content-length: ${sc.length}\r\n\r\n`
        : '\r\n')
  );
}

/** An Upgrade request's head as forwarded, and the Host headers it had. */
export interface UpgradeHead {
  text: string;
  /** The first Host header ('' without one). */
  host: string;
  hosts: number;
}

/**
 * The head of an Upgrade request for the tunnel: every header as sent (Connection and Upgrade are the point),
 * X-Forwarded-* rebuilt, X-Request-Id added when missing.
 */
export function upgradeHead(
  method: string,
  url: string,
  raw: string[],
  addr: string,
  proto: string,
): UpgradeHead {
  let host = '';
  let hosts = 0;
  let xff = '';
  let text = `${method} ${url} HTTP/1.1\r\n`;
  let requestId = false;
  for (let i = 0; i < raw.length; i += 2) {
    const l = raw[i].toLowerCase();
    if (l === 'host' && hosts++ === 0) host = raw[i + 1];
    if (l === 'x-request-id') requestId = true;
    if (l === 'x-forwarded-for') {
      xff = xff === '' ? raw[i + 1] : `${xff}, ${raw[i + 1]}`;
      continue;
    }
    if (l === 'x-forwarded-proto' || l === 'x-forwarded-host') continue;
    text += `${raw[i]}: ${raw[i + 1]}\r\n`;
  }
  if (!requestId) text += `x-request-id: ${nextRequestId()}\r\n`;
  text += `x-forwarded-for: ${xff === '' ? addr : `${xff}, ${addr}`}\r\nx-forwarded-proto: ${proto}\r\nx-forwarded-host: ${host}\r\n\r\n`;
  return { text, host, hosts };
}

/** A response's headers without the names its Connection header (listed) names; the same array when none. */
export function withoutListed(headers: string[], listed: string | null): string[] {
  if (listed === null) return headers;
  const extra = connectionTokens(listed);
  if (extra === null) return headers;
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (!extra.has(headers[i].toLowerCase())) out.push(headers[i], headers[i + 1]);
  }
  return out;
}
