/**
 * One proxied request: the upstream attempts (a connect failure moves to another target once, a connection that
 * dies before the response is replayed once when safe), the request body streamed up, the response streamed
 * back to the client side, the response stored in the cache when shareable, and the request recorded once.
 */

import type { IncomingMessage } from 'node:http';
import type { Balancer, Target } from './balancer.js';
import { etagOf, MAX_ENTRY_BYTES, ResponseCache, sharedFreshness, upstreamAge } from './cache.js';
import type { ClientEvents, ClientSide, NodeClient } from './client-side.js';
import { BODY_CHUNKED, BODY_NONE, withoutListed } from './forward-headers.js';
import { badGatewayPage, sendPage, simplePage } from './pages.js';
import { recordRequest } from './request-record.js';
import type { RouteEntry } from './router.js';
import type { Connection, UpstreamRequest } from './upstream.js';

/** What an exchange needs of the proxy that runs it. */
export interface ExchangeContext {
  readonly balancer: Balancer;
  readonly cache: ResponseCache;
  /** The next target for hostKey in the current table (a retry follows a table swap), avoiding avoidKey. */
  retarget(hostKey: string, avoidKey: string | null): Target | null;
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

export function errCode(err: unknown): string {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : '';
}

/** Nothing reached the upstream: the connection was never made, or failed as a connect does. */
export function nothingSent(code: string, connected: boolean): boolean {
  return !connected || CONNECT_ERRORS.has(code);
}

/**
 * A request whose connection died before any response byte may be replayed on a brand-new connection: when
 * nothing was sent, or for a GET/HEAD without body (it cannot have changed anything).
 */
export function replayable(code: string, nothing: boolean, bodyMode: number, method: string): boolean {
  return (
    RESET_ERRORS.has(code) && (nothing || (bodyMode === BODY_NONE && (method === 'GET' || method === 'HEAD')))
  );
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

/** One proxied request (possibly several upstream attempts), the upstream connection's counterpart. */
export class Exchange implements UpstreamRequest, ClientEvents {
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
    readonly ctx: ExchangeContext,
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

  /** Notices a client that leaves while its request body is being forwarded (see onRequestClose). */
  watchBody(): void {
    const req = this.req;
    if (req === null || this.bodyMode === BODY_NONE) return;
    req[kExchange] = this;
    req.once('close', onRequestClose);
  }

  /** Starts an attempt on this.target; fresh: on a brand-new connection. */
  send(fresh: boolean): void {
    const t = this.target;
    this.ctx.balancer.begin(t);
    this.released = false;
    this.responded = false;
    t.pool.request(this, fresh);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.ctx.balancer.end(this.target);
  }

  /** Counts the request and writes its access log line, once, with the status the client got. */
  record(status: number): void {
    if (this.recorded) return;
    this.recorded = true;
    recordRequest(
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
    const out = withoutListed(headers, c.parser.connectionHeader);
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
      this.ctx.cache.set(key, {
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
      const nothing = nothingSent(code, connected);
      if (nothing && !this.triedOther) {
        this.triedOther = true;
        const next = this.ctx.retarget(this.hostKey, this.target.key);
        if (next !== null) {
          this.target = next;
          this.send(false);
          return;
        }
      }
      // The connection died before any response byte, typically a reused keep-alive socket the upstream
      // closed as idle: replay once on a brand-new connection (never another possibly-dying idle one) if
      // that is safe: nothing was sent, or a GET/HEAD without body.
      if (!this.retriedReset && replayable(code, nothing, this.bodyMode, this.method)) {
        this.retriedReset = true;
        const next = this.ctx.retarget(this.hostKey, null);
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
