/**
 * The built-in edge's proxy logic: Host-based routing over a RoutingTable, round-robin across
 * a route's targets, keep-alive connection pools per upstream (upstream.ts), streaming both ways,
 * WebSocket/Upgrade tunnelling, static routes, per-target in-flight counters for draining, and per-deployment
 * request metrics plus one access log line per request (metrics.ts, access-log.ts).
 *
 * Hot path notes: one pass over rawHeaders per request that builds the upstream request head as one
 * string (one socket write), one handler object per request (methods on the prototype, no closures),
 * no per-request timers, no URL parsing; the access log line is appended to an in-memory buffer written in batches. The upstream side is a small HTTP/1.1 client of our
 * own (upstream.ts + http1.ts): it measured ~1.5x the throughput of undici's Pool.dispatch here, and
 * undici alone costs the edge process ~20 MB of RSS.
 */

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import http from 'node:http';
import type https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { type AccessLog, type AccessLogFile, accessLine } from './access-log.js';
import {
  currentAge,
  etagOf,
  hitHeaders,
  MAX_ENTRY_BYTES,
  ResponseCache,
  type StoredResponse,
  sharedFreshness,
  upstreamAge,
} from './cache.js';
import { type ClientEvents, type ClientSide, NodeClient } from './client-side.js';
import { ConnectionLimiter, DEFAULT_CONNECTIONS_PER_IP } from './conn-limit.js';
import { FastHttp, type FastRequestHandler, type FastRequestHead } from './fast-http.js';
import { type DeploymentCounters, MetricsRegistry } from './metrics.js';
import {
  badGatewayPage,
  bodyBytesOf,
  noReplicaPage,
  notFoundHostPage,
  rawPage,
  sendPage,
  simplePage,
} from './pages.js';
import { type CompiledPolicy, compilePolicy, type PolicyVerdict } from './policy.js';
import type { Route, RouteTarget, RoutingTable } from './routing-table.js';
import { serveStatic } from './static.js';
import { type Connection, type UpstreamOptions, UpstreamPool, type UpstreamRequest } from './upstream.js';

export interface TargetStats {
  /** Requests in flight plus open tunnelled (WebSocket/Upgrade) connections. */
  active: number;
  /** Requests and tunnels ever sent to this target (connect retries included). */
  total: number;
}

export interface EdgeStats {
  version: number;
  targets: Record<string, TargetStats>;
}

export interface EdgeProxyOptions {
  /** Scheme clients used to reach the edge, sent upstream as X-Forwarded-Proto. Default 'http'. */
  proto?: string;
  /** Max keep-alive connections per upstream host:port. Default 128. */
  connectionsPerTarget?: number;
  /** Directory of ACME HTTP-01 key authorizations (file name = token), served under ACME_PREFIX. */
  challengeDir?: string;
  /** The HTTPS origin (`https://host[:port]`) to redirect a host to, or null while it cannot serve HTTPS. */
  httpsOrigin?: (hostKey: string) => string | null;
  /** Upstream TCP connect timeout. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Longest wait for upstream response headers, and between two upstream body chunks. Default 15 min. */
  upstreamTimeoutMs?: number;
  /** How long an idle upstream keep-alive connection is kept. Default 4000 ms (below Node's 5 s server default). */
  upstreamKeepAliveMs?: number;
  /** Where a line per request goes; null/absent: no access log. */
  accessLog?: AccessLog | null;
}

interface Target {
  id: string;
  key: string;
  host: string;
  port: number;
  stats: TargetStats;
  pool: UpstreamPool;
}

interface RouteEntry {
  route: Route;
  targets: Target[];
  rr: number;
  /** Normalised host names whose plain-HTTP requests are redirected to HTTPS; null: none. */
  redirect: Set<string> | null;
  /** The route's `[edge]` policy; null when it enforces nothing. */
  policy: CompiledPolicy | null;
  /** The route's deployment's counters (they outlive the table while its requests finish). */
  counters: DeploymentCounters;
  /** Its service's access log file; null without an access log. */
  log: AccessLogFile | null;
}

interface CompiledTable {
  version: number;
  byHost: Map<string, RouteEntry>;
}

/** Host header → routing key: drop the port, a trailing dot, lower-case. `[::1]:80` → `[::1]`. */
export function normalizeHost(h: string): string {
  let end = h.length;
  if (h.charCodeAt(0) === 91 /* [ */) {
    const close = h.indexOf(']');
    if (close !== -1) end = close + 1;
  } else {
    const colon = h.indexOf(':');
    if (colon !== -1) end = colon;
  }
  if (end > 0 && h.charCodeAt(end - 1) === 46 /* . */) end--;
  return (end === h.length ? h : h.slice(0, end)).toLowerCase();
}

/** Request headers never forwarded (hop-by-hop, RFC 9110 §7.6.1) or rebuilt by the edge. */
function dropRequestHeader(k: string): boolean {
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

function isContentLength(k: string): boolean {
  return k.length === 14 && k.toLowerCase() === 'content-length';
}

/** Tokens of a Connection header other than keep-alive/close: extra hop-by-hop header names. */
function connectionTokens(v: string): Set<string> | null {
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

const DUPLICATE_HOST = 'The request has more than one Host header; send exactly one.';

/** The ACME HTTP-01 path prefix; its files come from the challenge directory, for every host. */
const ACME_PREFIX = '/.well-known/acme-challenge/';
const ACME_TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

/**
 * X-Request-Id for requests that arrive without one: unique per edge process (random prefix + counter),
 * cheap enough for the hot path, unlike a UUID per request.
 */
const REQUEST_ID_PREFIX = randomBytes(6).toString('hex');
let requestCounter = 0;
function nextRequestId(): string {
  requestCounter = (requestCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${REQUEST_ID_PREFIX}-${requestCounter.toString(36)}`;
}

/** The declared request body size for the policy: 0 without a body, -1 when chunked (counted as it streams). */
function declaredBodySize(req: IncomingMessage, bodyMode: number): number {
  if (bodyMode === BODY_NONE) return 0;
  return bodyMode === BODY_LENGTH ? Number(req.headers['content-length']) : -1;
}

/** The 403/413/429 page of a refused request (connection closed: the body may still be arriving). */
function sendRefusal(res: ServerResponse, v: Exclude<PolicyVerdict, { ok: true }>): void {
  const title = v.status === 429 ? 'Too many requests' : v.status === 413 ? 'Request too large' : 'Forbidden';
  const headers: Record<string, string> = { connection: 'close' };
  if (v.retryAfterSeconds !== undefined) headers['retry-after'] = String(v.retryAfterSeconds);
  sendPage(res, v.status, simplePage(v.status, title, v.reason), headers);
}

/** What a cache hit answers: 304 when the client has this version (inm: its If-None-Match), else the entry. */
interface CachedAnswer {
  status: number;
  reason: string;
  headers: string[];
  /** null: no body (304, HEAD). */
  body: Buffer | null;
}

function cachedAnswer(e: StoredResponse, method: string, inm: string | null): CachedAnswer {
  const now = Date.now();
  if (e.etag !== null && inm !== null && etagListed(inm, e.etag)) {
    const age = String(currentAge(e, now));
    return { status: 304, reason: '', headers: ['etag', e.etag, 'age', age, 'x-cache', 'HIT'], body: null };
  }
  const body = method === 'HEAD' ? null : e.body;
  return { status: e.status, reason: e.reason, headers: hitHeaders(e, now), body };
}

/** Writes a cache hit's answer on Node's server side. */
function serveCached(res: ServerResponse, a: CachedAnswer): void {
  if (a.reason !== '') res.writeHead(a.status, a.reason, a.headers);
  else res.writeHead(a.status, a.headers);
  if (a.body === null) res.end();
  else res.end(a.body);
}

function etagListed(inm: string, etag: string): boolean {
  for (const t of inm.split(',')) if (t.trim() === etag) return true;
  return false;
}

function clientAddress(req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ETIMEDOUT',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
/** The connection died before the response: UPSTREAM_CLOSED = a clean close (FIN) before any response byte. */
const RESET_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'UPSTREAM_CLOSED']);

function errCode(err: unknown): string {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : '';
}

const kExchange = Symbol('berth.exchange');
type TaggedRequest = IncomingMessage & { [kExchange]?: Exchange };

function onRequestData(this: TaggedRequest, chunk: Buffer): void {
  this[kExchange]?.bodyData(chunk);
}

function onRequestEnd(this: TaggedRequest): void {
  this[kExchange]?.bodyEnd();
}

/**
 * The request was destroyed (its client connection closed) before its whole body was read. Needed besides the response's 'close': a
 * pipelined request's response waits in Node's queue and never gets one, so without this its upstream
 * connection waited for the rest of the body until the upstream timeout.
 */
function onRequestClose(this: TaggedRequest): void {
  if (!this.readableEnded) this[kExchange]?.clientClosed();
}

/** How the request body is sent upstream. */
const BODY_NONE = 0;
const BODY_LENGTH = 1; // the client's Content-Length is forwarded, bytes as they come
const BODY_CHUNKED = 2; // the client sent chunked: re-chunked upstream

/** What one pass over a request's raw headers found. */
interface HeaderScan {
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
  /** The client did not ask to bypass the cache (no-cache / no-store). */
  lookup: boolean;
}

/** One pass over the raw headers that builds the upstream header lines and notes what routing needs. */
function scanHeaders(method: string, raw: string[]): HeaderScan {
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
      else if (l === 'cache-control' && /no-cache|no-store/i.test(raw[i + 1])) lookup = false;
      else if (l === 'if-none-match') inm = inm === null ? raw[i + 1] : `${inm}, ${raw[i + 1]}`;
    } else if (kl === 6 && k.toLowerCase() === 'pragma' && /no-cache/i.test(raw[i + 1])) lookup = false;
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

/** One proxied request (possibly several upstream attempts), the upstream connection's counterpart. */
class Exchange implements UpstreamRequest, ClientEvents {
  target: Target;
  conn: Connection | null = null;
  /** Upstream response headers were forwarded for the current attempt. */
  responded = false;
  /** The current attempt's counters were released. */
  released = true;
  clientGone = false;
  /**
   * The request may have its response stored in the edge cache (set with deploymentId); cacheBody collects a
   * shareable response while it streams. The cache key is built only when something is stored.
   */
  cacheable = false;
  deploymentId = '';
  cacheBody: Buffer[] | null = null;
  cacheBytes = 0;
  cacheHead: { status: number; reason: string; headers: string[]; ttl: number; age: number } | null = null;
  /** Largest chunked request body the route accepts (-1: no limit), and the bytes seen so far. */
  maxBody = -1;
  bodyBytes = 0;
  done = false;
  triedOther = false;
  retriedReset = false;
  bodyStarted = false;
  bodyPaused = false;
  recorded = false;
  bytesIn = 0;
  bytesOut = 0;
  /** The body's final bytes, held for res.end (see onResponseData). */
  lastChunk: Buffer | null = null;
  readonly noResponseBody: boolean;

  constructor(
    readonly proxy: EdgeProxy,
    /** Node's request, for streaming its body; null on the fast path (no body). */
    readonly req: TaggedRequest | null,
    readonly client: ClientSide,
    readonly method: string,
    readonly url: string,
    readonly ip: string,
    readonly hostKey: string,
    readonly service: string,
    /** The request head to send upstream (latin1). */
    readonly head: string,
    readonly bodyMode: number,
    target: Target,
    readonly entry: RouteEntry,
    /** performance.now() when the request arrived. */
    readonly start: number,
    readonly requestId: string,
  ) {
    this.target = target;
    this.noResponseBody = method === 'HEAD';
    client.bind(this);
  }

  /** Starts an attempt on this.target; fresh: on a brand-new connection. */
  send(fresh: boolean): void {
    const t = this.target;
    t.stats.active++;
    t.stats.total++;
    this.proxy.inflight++;
    this.released = false;
    this.responded = false;
    t.pool.request(this, fresh);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.target.stats.active--;
    this.proxy.requestReleased();
  }

  /** Counts the request and writes its access log line, once, with the status the client got. */
  record(status: number): void {
    if (this.recorded) return;
    this.recorded = true;
    this.proxy.record(
      this.entry,
      this.method,
      this.url,
      this.ip,
      this.hostKey,
      status,
      this.start,
      this.bytesIn,
      this.bytesOut,
      this.requestId,
    );
  }

  finish(): void {
    this.done = true;
    this.client.unbind();
    if (this.bodyStarted) this.stopBody();
  }

  clientClosed(): void {
    if (this.done || this.client.finished) return;
    this.clientGone = true;
    const c = this.conn;
    this.conn = null;
    if (c !== null) c.destroy();
    else this.target.pool.cancel(this);
    this.release();
    this.finish();
    // 499: the client closed the connection before the response (nginx's convention).
    this.record(this.client.headersSent ? this.client.statusCode : 499);
  }

  /** A chunked body passed the route's limit: drop the upstream attempt, answer 413, close the client. */
  bodyTooLarge(): void {
    this.clientGone = true;
    const c = this.conn;
    this.conn = null;
    if (c !== null) c.destroy();
    this.release();
    this.finish();
    const res = (this.client as NodeClient).res; // request bodies only come through Node's server
    if (!res.headersSent) {
      const text = `The request body is larger than this service accepts (${this.maxBody} bytes).`;
      sendPage(res, 413, simplePage(413, 'Request too large', text), { connection: 'close' });
    } else {
      res.destroy();
    }
  }

  drained(): void {
    this.conn?.resume();
  }

  // ---- request side

  onConnection(conn: Connection): void {
    if (this.bodyMode === BODY_NONE) {
      conn.write(this.head, 'latin1');
      return;
    }
    if (this.bodyStarted) {
      // The body was already (partly) consumed by an earlier attempt: it cannot be sent again.
      conn.fail(Object.assign(new Error('request body already consumed'), { code: 'UPSTREAM_BODY_GONE' }));
      return;
    }
    conn.bodyPending = true;
    conn.write(this.head, 'latin1');
    this.bodyStarted = true;
    const req = this.req as TaggedRequest;
    req[kExchange] = this;
    req.on('data', onRequestData);
    req.on('end', onRequestEnd);
  }

  bodyData(chunk: Buffer): void {
    const c = this.conn;
    if (c === null) return;
    this.bytesIn += chunk.length;
    if (this.maxBody >= 0) {
      this.bodyBytes += chunk.length;
      if (this.bodyBytes > this.maxBody) {
        this.bodyTooLarge();
        return;
      }
    }
    let ok: boolean;
    if (this.bodyMode === BODY_CHUNKED) {
      if (chunk.length === 0) return;
      c.socket.cork();
      c.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      c.write(chunk);
      ok = c.write('\r\n', 'latin1');
      c.socket.uncork();
    } else {
      ok = c.write(chunk);
    }
    c.lastActive = Date.now();
    if (!ok) {
      this.bodyPaused = true;
      this.req?.pause();
    }
  }

  onUpstreamDrain(): void {
    if (this.bodyPaused) {
      this.bodyPaused = false;
      this.req?.resume();
    }
  }

  bodyEnd(): void {
    const c = this.conn;
    this.detachBody();
    if (c === null) return;
    if (this.bodyMode === BODY_CHUNKED) c.write('0\r\n\r\n', 'latin1');
    c.bodyPending = false;
  }

  detachBody(): void {
    const req = this.req;
    if (req === null) return;
    req.off('data', onRequestData);
    req.off('end', onRequestEnd);
    req[kExchange] = undefined;
  }

  /** No longer forwarding the body: discard the rest so the client connection can go on. */
  stopBody(): void {
    this.bodyStarted = false;
    this.detachBody();
    const req = this.req;
    if (req !== null && !req.readableEnded && !req.destroyed) req.resume();
  }

  // ---- response side (called by the connection's parser)

  onResponseHead(status: number, reason: string, headers: string[]): void {
    const c = this.conn as Connection;
    let out = headers;
    const listed = c.parser.connectionHeader;
    if (listed !== null) {
      const extra = connectionTokens(listed);
      if (extra !== null) {
        out = [];
        for (let i = 0; i < headers.length; i += 2) {
          if (!extra.has(headers[i].toLowerCase())) out.push(headers[i], headers[i + 1]);
        }
      }
    }
    try {
      this.client.writeHead(status, reason, out);
      if (this.cacheable) {
        const ttl = sharedFreshness(status, out);
        const age = ttl !== null ? upstreamAge(out) : 0;
        if (ttl !== null && ttl > age) {
          this.cacheHead = { status, reason, headers: out, ttl, age };
          this.cacheBody = [];
        }
      }
    } catch {
      // invalid header from upstream: answer 502 instead
      c.fail(
        Object.assign(new Error('invalid upstream response headers'), { code: 'UPSTREAM_BAD_RESPONSE' }),
      );
      return;
    }
    this.responded = true;
  }

  onResponseData(chunk: Buffer): void {
    this.bytesOut += chunk.length;
    if (this.cacheBody !== null) {
      this.cacheBytes += chunk.length;
      if (this.cacheBytes > MAX_ENTRY_BYTES) this.cacheBody = null;
      else this.cacheBody.push(Buffer.from(chunk)); // a copy: the view's buffer belongs to the socket read
    }
    // The last bytes of a Content-Length body (onResponseEnd follows at once) go out with res.end: one pass
    // through the response's write path instead of a write and then an end.
    if (this.conn?.parser.complete) {
      this.lastChunk = chunk;
      return;
    }
    if (this.client.write(chunk)) return;
    (this.conn as Connection).pause();
  }

  onResponseEnd(): void {
    if (this.cacheBody !== null && this.cacheHead !== null) {
      const h = this.cacheHead;
      const now = Date.now();
      const key = ResponseCache.key(this.deploymentId, this.hostKey, this.url);
      this.proxy.cache.set(key, {
        status: h.status,
        reason: h.reason,
        headers: h.headers,
        body: Buffer.concat(this.cacheBody),
        etag: etagOf(h.headers),
        storedAt: now,
        initialAge: h.age,
        expiresAt: now + (h.ttl - h.age) * 1000,
        deploymentId: this.deploymentId,
      });
      this.cacheBody = null;
    }
    this.conn = null;
    this.release();
    this.finish();
    // Read first: on the fast path, ending the response may start the connection's next request.
    const status = this.client.statusCode;
    const last = this.lastChunk;
    this.lastChunk = null;
    this.client.end(last);
    this.record(status);
  }

  onUpstreamError(err: Error, connected: boolean): void {
    this.conn = null;
    this.release();
    if (this.done) return;
    if (!this.responded && !this.client.headersSent) {
      const code = errCode(err);
      // Nothing reached the upstream (connect failed): any method may go to another replica, once.
      const nothingSent = !connected || CONNECT_ERRORS.has(code);
      if (nothingSent && !this.triedOther) {
        this.triedOther = true;
        const next = this.proxy.pickTarget(this.hostKey, this.target.key);
        if (next !== null) {
          this.target = next;
          this.send(false);
          return;
        }
      }
      // The connection died before any response byte, typically a reused keep-alive socket the upstream
      // closed as idle: replay once on a brand-new connection (never another possibly-dying idle one) if
      // that is safe: nothing was sent, or a GET/HEAD without body.
      if (
        RESET_ERRORS.has(code) &&
        !this.retriedReset &&
        (nothingSent || (this.bodyMode === BODY_NONE && (this.method === 'GET' || this.method === 'HEAD')))
      ) {
        this.retriedReset = true;
        const next = this.proxy.pickTarget(this.hostKey, null);
        if (next !== null) {
          this.target = next;
          this.send(true);
          return;
        }
      }
      this.finish();
      this.bytesOut = this.client.sendPage(502, badGatewayPage(this.service));
      this.record(502);
      return;
    }
    // Failed mid-response: the client must see a truncated response, not a clean end.
    this.finish();
    const status = this.client.statusCode;
    this.client.destroy();
    this.record(status);
  }
}

/** A tunnelled Upgrade (WebSocket) connection: raw bytes both ways after forwarding the request head. */
class Tunnel {
  target: Target;
  upstream: net.Socket | null = null;
  connected = false;
  triedOther = false;
  counted = false;
  clientClosed = false;
  upstreamClosed = false;
  finished = false;
  killTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly proxy: EdgeProxy,
    readonly client: Duplex,
    readonly headText: string,
    readonly head: Buffer,
    readonly hostKey: string,
    readonly service: string,
    target: Target,
    readonly counters: DeploymentCounters,
  ) {
    this.target = target;
    proxy.tunnels.add(this);
    counters.tunnels++;
    counters.active++;
    if (client instanceof net.Socket) client.setKeepAlive(true, 60_000);
    client.once('close', () => {
      this.clientClosed = true;
      const up = this.upstream;
      if (up !== null && this.connected && !this.upstreamClosed) this.closeSoon(up, client.errored !== null);
      this.maybeFinish();
    });
  }

  connect(): void {
    const t = this.target;
    t.stats.active++;
    t.stats.total++;
    this.counted = true;
    const up = net.connect({ host: t.host, port: t.port });
    this.upstream = up;
    up.setNoDelay(true);
    up.setKeepAlive(true, 60_000); // notice peers that vanished without a FIN
    up.setTimeout(this.proxy.connectTimeoutMs, () => {
      if (!this.connected) up.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' }));
    });
    up.once('connect', () => {
      this.connected = true;
      up.setTimeout(0);
      if (this.clientClosed) {
        up.destroy();
        return;
      }
      up.write(this.headText);
      up.on('data', this.onHeadData);
    });
    up.on('error', () => {
      if (!this.connected) this.connectFailed();
      // once connected, 'close' follows and tears the pair down
    });
    up.once('close', (hadError) => {
      if (this.upstream !== up || !this.connected) return;
      this.upstreamClosed = true;
      if (!this.clientClosed) this.closeSoon(this.client, hadError);
      this.maybeFinish();
    });
  }

  /**
   * The upstream's answer to the upgrade request, until its head is complete. Only a 101 opens the tunnel: on
   * any other answer the connection would go on as HTTP straight to the app, past everything the edge does per
   * request (X-Forwarded-For, `[edge]` policy), so the client gets that answer and the connection ends.
   */
  private answer: Buffer | null = null;

  private readonly onHeadData = (chunk: Buffer): void => {
    const up = this.upstream as net.Socket;
    const buf = this.answer === null ? chunk : Buffer.concat([this.answer, chunk]);
    const end = buf.indexOf('\r\n\r\n');
    if (end === -1 && buf.length <= http.maxHeaderSize) {
      this.answer = buf;
      return;
    }
    this.answer = null;
    up.off('data', this.onHeadData);
    up.pause();
    this.client.write(buf);
    if (end !== -1 && /^HTTP\/1\.[01] 101[ \r]/.test(buf.toString('latin1', 0, 14))) {
      if (this.head.length > 0) up.write(this.head);
      up.pipe(this.client);
      this.client.pipe(up);
      up.resume();
      return;
    }
    // Not switched: the rest of this answer, then both sides close (the app sees its request side end).
    up.pipe(this.client);
    up.end();
    up.resume();
  };

  /** Ends the other side gracefully (flushing what the pipe already queued), or kills it after an error. */
  closeSoon(side: Duplex, kill: boolean): void {
    if (kill) {
      side.destroy();
      return;
    }
    side.end();
    this.killTimer ??= setTimeout(() => side.destroy(), 10_000).unref();
  }

  connectFailed(): void {
    this.uncount();
    if (!this.triedOther && !this.clientClosed) {
      this.triedOther = true;
      const next = this.proxy.pickTarget(this.hostKey, this.target.key);
      if (next !== null) {
        this.target = next;
        this.connect();
        return;
      }
    }
    this.upstream = null;
    if (!this.clientClosed) this.client.end(rawPage(502, 'Bad Gateway', badGatewayPage(this.service)));
    this.maybeFinish();
  }

  uncount(): void {
    if (!this.counted) return;
    this.counted = false;
    this.target.stats.active--;
  }

  maybeFinish(): void {
    if (this.finished || !this.clientClosed) return;
    if (this.upstream !== null && !this.upstreamClosed) return;
    this.finished = true;
    if (this.killTimer !== null) clearTimeout(this.killTimer);
    this.uncount();
    this.counters.active--;
    this.proxy.tunnels.delete(this);
    this.proxy.checkIdle();
  }

  destroy(): void {
    this.client.destroy();
    this.upstream?.destroy();
  }
}

const kPlain = Symbol('berth.plain');
type PlainResponse = ServerResponse & { [kPlain]?: PlainRequest };

function onPlainClose(this: PlainResponse): void {
  const p = this[kPlain];
  if (p === undefined) return;
  this[kPlain] = undefined;
  // 499: the client closed the connection before the response (nginx's convention).
  const status = this.headersSent ? this.statusCode : 499;
  const bytesOut = this.writableFinished ? bodyBytesOf(this) : 0;
  const req = p.req;
  p.proxy.record(
    p.entry,
    req.method as string,
    req.url as string,
    clientAddress(req),
    p.hostKey,
    status,
    p.start,
    0,
    bytesOut,
    p.requestId,
  );
}

/** A routed request the edge answers itself (static file, 503, redirect): counted when its response closes. */
class PlainRequest {
  constructor(
    readonly proxy: EdgeProxy,
    readonly entry: RouteEntry,
    readonly req: IncomingMessage,
    readonly hostKey: string,
    readonly start: number,
    readonly requestId: string,
  ) {}
}

export class EdgeProxy implements FastRequestHandler {
  /** Requests in flight through the proxy (all targets). */
  inflight = 0;
  /** Requests and upgrades received, whatever became of them. */
  requests = 0;
  readonly tunnels = new Set<Tunnel>();
  readonly connectTimeoutMs: number;
  private table: CompiledTable = { version: 0, byHost: new Map() };
  private readonly pools = new Map<string, UpstreamPool>();
  /** Pools of targets that left the table, until their last connection closed. */
  private readonly closingPools = new Set<UpstreamPool>();
  private readonly statsById = new Map<string, TargetStats>();
  /** Shareable responses (Cache-Control: public / s-maxage), served without the upstream. */
  readonly cache = new ResponseCache();
  private readonly proto: string;
  private readonly challengeDir: string | null;
  private readonly httpsOrigin: ((hostKey: string) => string | null) | null;
  private readonly upstreamOptions: UpstreamOptions;
  readonly metrics = new MetricsRegistry();
  private readonly accessLog: AccessLog | null;
  private idleWaiters: Array<() => void> = [];
  private sweeper: NodeJS.Timeout | null = null;
  /** The plain-HTTP listener's fast path (fast-http.ts), once createServer() made it. */
  fast: FastHttp | null = null;
  /** Connections per client IP on the public listeners (createServer's, and those passed to guard()). */
  readonly connections = new ConnectionLimiter();
  /** Policy refusals of the fast path, by socket, for the request Node's server takes over (see fastRequest). */
  private readonly fastRefusals = new WeakMap<object, PolicyVerdict>();
  /** Refusals set and not taken yet (overcounts those whose connection closed first: it only skips a lookup). */
  private pendingFastRefusals = 0;

  constructor(opts: EdgeProxyOptions = {}) {
    this.proto = opts.proto ?? 'http';
    this.challengeDir = opts.challengeDir ?? null;
    this.httpsOrigin = opts.httpsOrigin ?? null;
    this.accessLog = opts.accessLog ?? null;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
    this.upstreamOptions = {
      maxConnections: opts.connectionsPerTarget ?? 128,
      connectTimeoutMs: this.connectTimeoutMs,
      timeoutMs: opts.upstreamTimeoutMs ?? 15 * 60_000,
      keepAliveMs: opts.upstreamKeepAliveMs ?? 4000,
      maxHeaderSize: http.maxHeaderSize,
    };
  }

  get version(): number {
    return this.table.version;
  }

  /**
   * The counters and access log file of the route serving a normalised host, for requests another data
   * plane (HAProxy, see haproxy/log-ingest.ts) proxied and reported; undefined for an unknown host.
   */
  routeRecorder(hostKey: string): { counters: DeploymentCounters; log: AccessLogFile | null } | undefined {
    const e = this.table.byHost.get(hostKey);
    return e === undefined ? undefined : { counters: e.counters, log: e.log };
  }

  /** Atomically replaces the routing table. Pools of targets that left the table close once idle. */
  setTable(table: RoutingTable): void {
    const byHost = new Map<string, RouteEntry>();
    const usedPools = new Set<string>();
    const usedIds = new Set<string>();
    const deployments = new Set<string>();
    const logKeys = new Set<string>();
    for (const route of table.routes) {
      const targets = route.kind === 'proxy' ? route.targets.map((t) => this.target(t)) : [];
      for (const t of targets) {
        usedPools.add(t.key);
        usedIds.add(t.id);
      }
      const redirect = route.redirectToHttps?.length
        ? new Set(route.redirectToHttps.map(normalizeHost))
        : null;
      const counters = this.metrics.forDeployment(route, route.deploymentId);
      deployments.add(route.deploymentId);
      logKeys.add(counters.key);
      const log = this.accessLog?.file(counters.key) ?? null;
      const previous = this.table.byHost.get(normalizeHost(route.hostnames[0] ?? ''))?.policy ?? null;
      const policy = compilePolicy(route.policy, previous);
      const entry: RouteEntry = { route, targets, rr: 0, redirect, counters, log, policy };
      for (const h of route.hostnames) {
        const key = normalizeHost(h);
        if (!byHost.has(key)) byHost.set(key, entry);
      }
    }
    this.table = { version: table.version, byHost };
    this.connections.max = table.connectionsPerIp ?? DEFAULT_CONNECTIONS_PER_IP;
    this.cache.keepOnly(new Set(table.routes.map((r) => r.deploymentId)));
    this.metrics.prune(deployments);
    this.accessLog?.retain(logKeys);
    for (const [key, pool] of this.pools) {
      if (usedPools.has(key)) continue;
      this.pools.delete(key);
      this.closingPools.add(pool);
      void pool.close().then(() => this.closingPools.delete(pool));
    }
    for (const [id, s] of this.statsById) {
      if (!usedIds.has(id) && s.active === 0) this.statsById.delete(id);
    }
    // Timeouts and idle expiry of upstream connections: one timer for all pools, only while there are any.
    if (this.pools.size > 0 && this.sweeper === null) {
      this.sweeper = setInterval(() => this.sweep(), 1000).unref();
    }
  }

  /** Expires idle upstream connections and times out silent ones (about once a second). */
  sweep(): void {
    const now = Date.now();
    for (const p of this.pools.values()) p.sweep(now);
    for (const p of this.closingPools) p.sweep(now);
    if (this.pools.size === 0 && this.closingPools.size === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }

  /** Open upstream connections (all pools). */
  get upstreamConnections(): number {
    let n = 0;
    for (const p of this.pools.values()) n += p.size;
    for (const p of this.closingPools) n += p.size;
    return n;
  }

  stats(): EdgeStats {
    const targets: Record<string, TargetStats> = {};
    for (const [id, s] of this.statsById) targets[id] = { active: s.active, total: s.total };
    return { version: this.table.version, targets };
  }

  /** Open requests + tunnels. */
  get active(): number {
    return this.inflight + this.tunnels.size;
  }

  /** Resolves when no request or tunnel is in flight. */
  whenIdle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Destroys open tunnels and closes upstream pools (after in-flight requests). */
  async close(): Promise<void> {
    for (const t of this.tunnels) t.destroy();
    const pools = [...this.pools.values(), ...this.closingPools];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close()));
    this.closingPools.clear();
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
  }

  /** Next target for hostKey in the current table, preferring one whose host:port differs from avoidKey. */
  pickTarget(hostKey: string, avoidKey: string | null): Target | null {
    const entry = this.table.byHost.get(hostKey);
    if (entry === undefined) return null;
    const ts = entry.targets;
    const n = ts.length;
    for (let i = 0; i < n; i++) {
      const t = ts[entry.rr++ % n];
      if (t.key !== avoidKey) return t;
    }
    return null;
  }

  /** Counts a finished request of a route (and logs it); start is its performance.now(). */
  record(
    entry: RouteEntry,
    method: string,
    url: string,
    ip: string,
    hostKey: string,
    status: number,
    start: number,
    bytesIn: number,
    bytesOut: number,
    requestId: string,
  ): void {
    const ms = performance.now() - start;
    const c = entry.counters;
    c.active--;
    c.record(status, ms, bytesIn, bytesOut);
    const log = entry.log;
    if (log !== null) {
      log.append(accessLine(c.logFields, method, hostKey, url, status, ms, bytesIn, bytesOut, requestId, ip));
    }
  }

  /** Starts counting a request the edge answers itself; see PlainRequest. */
  private plain(
    entry: RouteEntry,
    req: IncomingMessage,
    res: PlainResponse,
    hostKey: string,
    start: number,
    requestId: string | null,
  ): void {
    entry.counters.active++;
    res[kPlain] = new PlainRequest(this, entry, req, hostKey, start, requestId ?? nextRequestId());
    res.on('close', onPlainClose);
  }

  requestReleased(): void {
    this.inflight--;
    this.checkIdle();
  }

  checkIdle(): void {
    if (this.idleWaiters.length > 0 && this.active === 0) {
      const ws = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of ws) w();
    }
  }

  /** The verdict the fast path reached for this request before handing its connection over, once. */
  private takeFastRefusal(req: IncomingMessage): PolicyVerdict | undefined {
    if (this.pendingFastRefusals === 0) return undefined;
    const v = this.fastRefusals.get(req.socket);
    if (v === undefined) return undefined;
    this.fastRefusals.delete(req.socket);
    this.pendingFastRefusals--;
    return v;
  }

  /**
   * Creates the plain-HTTP server: connections start on the fast path (fast-http.ts), which hands them to this
   * http.Server (wired to this proxy: requests and upgrades) at the first request it does not serve itself.
   */
  createServer(): http.Server {
    const opts = { keepAliveTimeout: 65_000, headersTimeout: 60_000, requestTimeout: 15 * 60_000 };
    const server = http.createServer(opts);
    this.attach(server);
    this.fast = new FastHttp(this, server, {
      keepAliveMs: opts.keepAliveTimeout,
      headersTimeoutMs: opts.headersTimeout,
      maxHeaderSize: http.maxHeaderSize,
    });
    this.connections.guard(server);
    return server;
  }

  /** X-Forwarded-Proto for a request: https when it came in over TLS. */
  private protoOf(req: IncomingMessage): string {
    return (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : this.proto;
  }

  /** Where a plain-HTTP request on a redirecting host goes (it has a certificate), else null. */
  private redirectLocation(hosts: Set<string>, hostKey: string, req: IncomingMessage): string | null {
    if (this.httpsOrigin === null || !hosts.has(hostKey)) return null;
    if ((req.socket as { encrypted?: boolean }).encrypted === true) return null;
    const origin = this.httpsOrigin(hostKey);
    return origin === null ? null : `${origin}${req.url}`;
  }

  /** Answers an ACME HTTP-01 challenge from the challenge directory (404 when unknown). */
  private serveChallenge(req: IncomingMessage, res: ServerResponse): void {
    const token = (req.url as string).slice(ACME_PREFIX.length);
    const dir = this.challengeDir as string;
    if (!ACME_TOKEN.test(token)) {
      sendPage(res, 404, simplePage(404, 'Not found', 'No such ACME challenge.'));
      return;
    }
    fs.readFile(path.join(dir, token), (err, body) => {
      if (err) {
        sendPage(res, 404, simplePage(404, 'Not found', 'No such ACME challenge.'));
        return;
      }
      res.writeHead(200, {
        'content-type': 'text/plain',
        'content-length': body.length,
        'cache-control': 'no-store',
      });
      res.end(body);
    });
  }

  attach(server: http.Server | https.Server): void {
    server.on('request', this.handleRequest);
    server.on('upgrade', this.handleUpgrade);
  }

  readonly handleRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const start = performance.now();
    this.requests++;
    if (this.challengeDir !== null && (req.url as string).startsWith(ACME_PREFIX)) {
      this.serveChallenge(req, res);
      return;
    }
    // Taken for any request, so that a table swap in between cannot leave it to a later request.
    const refused = this.takeFastRefusal(req);
    const method = req.method as string;
    const sc = scanHeaders(method, req.rawHeaders);
    if (sc.hosts > 1) {
      sendPage(res, 400, simplePage(400, 'Bad request', DUPLICATE_HOST), { connection: 'close' });
      return;
    }
    const requestId = sc.requestId;
    const hostKey = sc.hostKey;
    const entry = this.table.byHost.get(hostKey);
    if (entry === undefined) {
      this.metrics.unrouted++;
      sendPage(res, 404, notFoundHostPage(hostKey));
      return;
    }
    const route = entry.route;
    const ts = entry.targets;
    // Requests the edge answers itself are counted and logged as "plain" responses (see plain()), except
    // cache hits, recorded as soon as they are written.
    if (entry.policy !== null) {
      const v =
        refused ??
        entry.policy.check(clientAddress(req), req.url as string, declaredBodySize(req, sc.bodyMode));
      if (!v.ok) {
        this.plain(entry, req, res, hostKey, start, requestId);
        sendRefusal(res, v);
        return;
      }
    }
    if (entry.redirect !== null) {
      const location = this.redirectLocation(entry.redirect, hostKey, req);
      if (location !== null) {
        this.plain(entry, req, res, hostKey, start, requestId);
        res.writeHead(308, { location, 'content-length': 0, 'cache-control': 'no-store' });
        res.end();
        return;
      }
    }
    if (route.kind === 'static' || ts.length === 0) {
      this.plain(entry, req, res, hostKey, start, requestId);
      if (route.kind === 'static') {
        if (route.staticRoot === null) sendPage(res, 503, noReplicaPage(route.service));
        else void serveStatic(req, res, route.staticRoot, route.staticAppDir, route.staticFallback);
      } else {
        sendPage(res, 503, noReplicaPage(route.service), { 'retry-after': '5' });
      }
      return;
    }
    if (this.answerFromCache(entry, sc, method, req.url as string, clientAddress(req), start, res)) return;
    const proto = this.protoOf(req);
    this.forward(
      entry,
      sc,
      req,
      new NodeClient(res),
      method,
      req.url as string,
      clientAddress(req),
      proto,
      start,
    );
  };

  /**
   * The fast path's request (fast-http.ts: plain HTTP/1.1, no body, no Expect/Upgrade): forwarded when it goes
   * to a route's replica or answered from the cache, as handleRequest would. false: Node's server must answer it
   * (edge pages, policy refusals, redirects, static files, ACME challenges), and the connection is handed over to
   * it; a refusal's verdict is left for it in fastRefusals.
   */
  fastRequest(client: ClientSide, socket: object, head: FastRequestHead, ip: string, start: number): boolean {
    const { method, url } = head;
    if (this.challengeDir !== null && url.startsWith(ACME_PREFIX)) return false;
    const sc = scanHeaders(method, head.raw);
    const hostKey = sc.hostKey;
    const entry = this.table.byHost.get(hostKey);
    if (
      entry === undefined ||
      sc.hosts > 1 ||
      entry.redirect !== null ||
      entry.route.kind !== 'proxy' ||
      entry.targets.length === 0
    ) {
      return false;
    }
    if (entry.policy !== null) {
      const v = entry.policy.check(ip, url, 0);
      if (!v.ok) {
        // Node's server answers the refusal with this verdict: checking again would count the request twice.
        this.fastRefusals.set(socket, v);
        this.pendingFastRefusals++;
        return false;
      }
    }
    this.requests++;
    if (this.answerFromCache(entry, sc, method, url, ip, start, client)) return true;
    this.forward(entry, sc, null, client, method, url, ip, this.proto, start);
    return true;
  }

  /**
   * Answers from the cache when it holds a fresh response for this request, and records it at once (the whole
   * answer is written right here); false when not. An empty cache (the common case: no app marked anything
   * shareable) costs no key and no lookup.
   */
  private answerFromCache(
    entry: RouteEntry,
    sc: HeaderScan,
    method: string,
    url: string,
    ip: string,
    start: number,
    to: ServerResponse | ClientSide,
  ): boolean {
    if (!sc.cacheable || !sc.lookup || this.cache.size === 0) return false;
    const hit = this.cache.get(ResponseCache.key(entry.route.deploymentId, sc.hostKey, url), Date.now());
    if (hit === null) return false;
    entry.counters.active++;
    const a = cachedAnswer(hit, method, sc.inm);
    if (to instanceof http.ServerResponse) {
      serveCached(to, a);
    } else {
      to.writeHead(a.status, a.reason, a.headers);
      to.end(a.body);
    }
    const id = sc.requestId ?? nextRequestId();
    this.record(entry, method, url, ip, sc.hostKey, a.status, start, 0, a.body?.length ?? 0, id);
    return true;
  }

  /** Sends a routed request to the route's next replica (round-robin). */
  private forward(
    entry: RouteEntry,
    sc: HeaderScan,
    req: IncomingMessage | null,
    client: ClientSide,
    method: string,
    url: string,
    addr: string,
    proto: string,
    start: number,
  ): void {
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
    let requestId = sc.requestId;
    let idLine = '';
    if (requestId === null) {
      requestId = nextRequestId();
      idLine = `x-request-id: ${requestId}\r\n`;
    }
    const xff = sc.xff;
    const bodyMode = sc.bodyMode;
    const head =
      `${method} ${url} HTTP/1.1\r\n${lines}` +
      `x-forwarded-for: ${xff === '' ? addr : `${xff}, ${addr}`}\r\n` +
      idLine +
      `x-forwarded-proto: ${proto}\r\nx-forwarded-host: ${sc.host}\r\n` +
      (bodyMode === BODY_CHUNKED
        ? 'transfer-encoding: chunked\r\n\r\n'
        : sc.length !== null
          ? `content-length: ${sc.length}\r\n\r\n`
          : '\r\n');
    const ts = entry.targets;
    const target = ts[entry.rr++ % ts.length];
    if (entry.rr > 0x3fffffff) entry.rr = 0;
    entry.counters.active++;
    const route = entry.route;
    const ex = new Exchange(
      this,
      req,
      client,
      method,
      url,
      addr,
      sc.hostKey,
      route.service,
      head,
      bodyMode,
      target,
      entry,
      start,
      requestId,
    );
    if (bodyMode === BODY_CHUNKED && entry.policy !== null) ex.maxBody = entry.policy.maxBodySize ?? -1;
    // A HEAD answer has no body to keep.
    if (sc.cacheable && method === 'GET' && bodyMode === BODY_NONE) {
      ex.cacheable = true;
      ex.deploymentId = route.deploymentId;
    }
    if (req !== null && bodyMode !== BODY_NONE) {
      (req as TaggedRequest)[kExchange] = ex;
      req.once('close', onRequestClose);
    }
    ex.send(false);
  }

  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    this.requests++;
    socket.pause(); // nothing may flow before we pipe it to the upstream
    socket.on('error', () => {});
    const raw = req.rawHeaders;
    let host = '';
    let hosts = 0;
    let xff = '';
    let text = `${req.method} ${req.url} HTTP/1.1\r\n`;
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
    const addr = clientAddress(req);
    if (!requestId) text += `x-request-id: ${nextRequestId()}\r\n`;
    text += `x-forwarded-for: ${xff === '' ? addr : `${xff}, ${addr}`}\r\nx-forwarded-proto: ${this.protoOf(req)}\r\nx-forwarded-host: ${host}\r\n\r\n`;
    if (hosts > 1) {
      socket.end(rawPage(400, 'Bad Request', simplePage(400, 'Bad request', DUPLICATE_HOST)));
      return;
    }
    const hostKey = normalizeHost(host);
    const entry = this.table.byHost.get(hostKey);
    if (entry === undefined) {
      this.metrics.unrouted++;
      socket.end(rawPage(404, 'Not Found', notFoundHostPage(hostKey)));
      return;
    }
    if (entry.policy !== null) {
      const v = entry.policy.check(addr, req.url as string, 0);
      if (!v.ok) {
        const title = v.status === 429 ? 'Too Many Requests' : 'Forbidden';
        const extra = v.retryAfterSeconds === undefined ? '' : `Retry-After: ${v.retryAfterSeconds}\r\n`;
        const page = rawPage(v.status, title, simplePage(v.status, title, v.reason));
        socket.end(page.replace('\r\n', `\r\n${extra}`));
        return;
      }
    }
    if (entry.route.kind === 'static') {
      socket.end(
        rawPage(
          400,
          'Bad Request',
          simplePage(400, 'Bad request', 'A static site cannot upgrade connections.'),
        ),
      );
      return;
    }
    const target = this.pickTarget(hostKey, null);
    if (target === null) {
      socket.end(rawPage(503, 'Service Unavailable', noReplicaPage(entry.route.service)));
      return;
    }
    new Tunnel(this, socket, text, head, hostKey, entry.route.service, target, entry.counters).connect();
  };

  private target(t: RouteTarget): Target {
    const key = `${t.host}:${t.port}`;
    let pool = this.pools.get(key);
    if (pool === undefined) {
      pool = new UpstreamPool(t.host, t.port, this.upstreamOptions);
      this.pools.set(key, pool);
    }
    let stats = this.statsById.get(t.id);
    if (stats === undefined) {
      stats = { active: 0, total: 0 };
      this.statsById.set(t.id, stats);
    }
    return { id: t.id, key, host: t.host, port: t.port, stats, pool };
  }
}
