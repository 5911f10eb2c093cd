/**
 * The edge's HTTP/1.1 client side: one keep-alive connection pool per upstream host:port, written for the
 * proxy's hot path (no per-request timers, closures or header objects; one socket write for a request
 * without body).
 *
 * A pool keeps up to `maxConnections` connections; idle ones are reused newest first (the oldest ones
 * expire). Requests beyond the limit wait in a FIFO queue. A connection serves one request at a time (no
 * pipelining) and goes back to the pool only when the response was complete, the request body fully sent
 * and both sides agreed to keep it alive.
 *
 * Timeouts are checked by `sweep()`, which the owner calls about once a second: idle connections expire
 * after the keep-alive time (or the upstream's own Keep-Alive timeout minus a second, if shorter), and a
 * busy connection fails with UPSTREAM_TIMEOUT when it saw no byte for `timeoutMs` (unless the client is the
 * one not reading). A connect attempt fails with ETIMEDOUT after `connectTimeoutMs`.
 */

import net from 'node:net';
import { type ResponseHandler, ResponseParser } from './http1.js';

export interface UpstreamOptions {
  maxConnections: number;
  connectTimeoutMs: number;
  /** Longest silence of a busy connection (waiting for the response head, or between body bytes). */
  timeoutMs: number;
  /** How long an idle connection is kept. */
  keepAliveMs: number;
  /** Longest accepted response head, in bytes. */
  maxHeaderSize: number;
}

/** One request's side of the conversation with a connection. */
export interface UpstreamRequest extends ResponseHandler {
  /** Set by the pool: the connection this request was given (possibly still connecting), else null. */
  conn: Connection | null;
  /** The connection is established and is this request's: write the request now (see Connection.write). */
  onConnection(conn: Connection): void;
  /**
   * The request failed before its response completed. `connected`: the connection had been established
   * (so the request may have reached the upstream).
   */
  onUpstreamError(err: Error, connected: boolean): void;
  /** The connection needs to pause/resume the request body (backpressure of the upstream socket). */
  onUpstreamDrain(): void;
  /** HEAD request: the response has no body. */
  readonly noResponseBody: boolean;
}

function timeoutError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

const kConn = Symbol('berth.upstreamConnection');
type TaggedSocket = net.Socket & { [kConn]: Connection };

function onSocketConnect(this: TaggedSocket): void {
  this[kConn].connected();
}
/**
 * Every upstream read lands in this one buffer (net's `onread`), instead of a fresh 64 KiB allocation per read
 * that is shrunk to size: less CPU per read, and none of the malloc heap those allocations fragmented (~15 MB
 * kept after load). A read is handled before the next one, so the rule is: a chunk that must outlive its read
 * callback is copied — the response parser's partial head, the cache, and any chunk a client side cannot write
 * at once (client-side.ts, fast-http.ts).
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

function onSocketRead(this: TaggedSocket, n: number): boolean {
  this[kConn].data(READ_BUFFER.subarray(0, n));
  return true;
}
function onSocketEnd(this: TaggedSocket): void {
  this[kConn].ended();
}
function onSocketError(this: TaggedSocket, err: Error): void {
  this[kConn].fail(err);
}
function onSocketClose(this: TaggedSocket): void {
  this[kConn].fail(null);
}
function onSocketTimeout(this: TaggedSocket): void {
  this[kConn].connectTimedOut();
}
function onSocketDrain(this: TaggedSocket): void {
  const ex = this[kConn].request;
  if (ex !== null) ex.onUpstreamDrain();
}

export class Connection implements ResponseHandler {
  readonly socket: TaggedSocket;
  readonly parser: ResponseParser;
  request: UpstreamRequest | null = null;
  isConnected = false;
  destroyed = false;
  /** Served at least one response before the current request. */
  reused = false;
  /** The current request's body is still being sent: the connection cannot be reused yet. */
  bodyPending = false;
  /** The response was paused because the client is not reading (no timeout then). */
  paused = false;
  /** Response completed inside the current data callback: release once the parser returns. */
  private completed = false;
  idleSince = 0;
  keepAliveMs: number;
  lastActive = 0;

  constructor(readonly pool: UpstreamPool) {
    this.keepAliveMs = pool.options.keepAliveMs;
    this.parser = new ResponseParser(this, pool.options.maxHeaderSize);
    const s = net.connect({
      host: pool.host,
      port: pool.port,
      onread: { buffer: READ_BUFFER, callback: onSocketRead },
    }) as TaggedSocket;
    s[kConn] = this;
    this.socket = s;
    s.setNoDelay(true);
    s.setTimeout(pool.options.connectTimeoutMs);
    s.on('connect', onSocketConnect);
    s.on('timeout', onSocketTimeout);
    s.on('end', onSocketEnd);
    s.on('error', onSocketError);
    s.on('close', onSocketClose);
    s.on('drain', onSocketDrain);
    this.lastActive = Date.now();
  }

  /** Gives this connection to ex; ex.onConnection() runs once (or as soon as) it is connected. */
  assign(ex: UpstreamRequest, now: number): void {
    this.request = ex;
    ex.conn = this;
    if (this.paused) this.resume(); // the last response ended with a write the client had not drained
    this.lastActive = now;
    this.parser.reset(ex.noResponseBody);
    if (this.isConnected) ex.onConnection(this);
  }

  write(data: string | Buffer, encoding?: BufferEncoding): boolean {
    return encoding === undefined ? this.socket.write(data) : this.socket.write(data, encoding);
  }

  connected(): void {
    this.isConnected = true;
    this.socket.setTimeout(0);
    this.lastActive = Date.now();
    const ex = this.request;
    if (ex !== null) ex.onConnection(this);
    else this.pool.release(this); // its request went away while connecting
  }

  connectTimedOut(): void {
    if (!this.isConnected) {
      this.fail(timeoutError(`connect to ${this.pool.key} timed out`, 'ETIMEDOUT'));
    }
  }

  data(d: Buffer): void {
    if (this.request === null) {
      // Bytes on an idle connection: nothing may arrive there. Drop it.
      this.destroy();
      return;
    }
    this.lastActive = Date.now();
    const err = this.parser.execute(d);
    if (this.destroyed) return;
    if (this.completed) {
      this.completed = false;
      if (err !== null || !this.parser.keepAlive || this.bodyPending) this.destroy();
      else {
        if (this.paused) this.resume(); // keep reading while idle, to notice the upstream closing
        this.pool.release(this);
      }
      return;
    }
    if (err !== null) this.fail(err);
  }

  ended(): void {
    if (this.destroyed) return;
    if (this.request === null) {
      this.destroy();
      return;
    }
    const r = this.parser.finish(); // may complete a close-delimited response
    if (this.completed) {
      this.completed = false;
      this.destroy();
      return;
    }
    if (r === 'empty') {
      this.fail(timeoutError(`${this.pool.key} closed the connection before responding`, 'UPSTREAM_CLOSED'));
    } else {
      this.fail(r ?? timeoutError(`${this.pool.key} closed the connection`, 'UPSTREAM_CLOSED'));
    }
  }

  /** Socket error or close (err null): the current request, if any, fails; the connection is gone. */
  fail(err: Error | null): void {
    const ex = this.request;
    const connected = this.isConnected;
    this.request = null;
    this.destroy();
    if (ex !== null) {
      ex.onUpstreamError(
        err ?? timeoutError(`${this.pool.key} closed the connection`, 'UPSTREAM_CLOSED'),
        connected,
      );
    }
  }

  /** Tears the connection down without telling its request (the request gave up on it). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.request = null;
    this.parser.stop();
    this.socket.destroy();
    this.pool.removed(this);
  }

  pause(): void {
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    this.paused = false;
    this.lastActive = Date.now();
    this.socket.resume();
  }

  // ResponseHandler: the parser's callbacks, forwarded to the request.

  onResponseHead(status: number, reason: string, headers: string[]): void {
    const t = this.parser.keepAliveTimeout;
    if (t >= 0) this.keepAliveMs = Math.min(this.pool.options.keepAliveMs, t * 1000 - 1000);
    this.request?.onResponseHead(status, reason, headers);
  }

  onResponseData(chunk: Buffer): void {
    this.request?.onResponseData(chunk);
  }

  onResponseEnd(): void {
    const ex = this.request;
    this.request = null;
    this.completed = true;
    this.reused = true;
    ex?.onResponseEnd();
  }

  /** Timeout check, from the pool's sweep. */
  check(now: number): void {
    if (this.destroyed || !this.isConnected) return;
    if (this.request === null) {
      if (now - this.idleSince >= this.keepAliveMs) this.destroy();
    } else if (!this.paused && now - this.lastActive >= this.pool.options.timeoutMs) {
      this.fail(timeoutError(`${this.pool.key} did not answer in time`, 'UPSTREAM_TIMEOUT'));
    }
  }
}

export class UpstreamPool {
  readonly key: string;
  private readonly idle: Connection[] = [];
  private readonly conns = new Set<Connection>();
  private readonly queue: UpstreamRequest[] = [];
  private closing = false;
  private closeWaiters: Array<() => void> = [];

  constructor(
    readonly host: string,
    readonly port: number,
    readonly options: UpstreamOptions,
  ) {
    this.key = `${host}:${port}`;
  }

  /** Open connections (busy, idle or connecting). */
  get size(): number {
    return this.conns.size;
  }

  /**
   * Sends ex over an idle connection, a new one, or queues it. `fresh`: always a brand-new connection
   * (replays after a reused connection died), even beyond maxConnections.
   */
  request(ex: UpstreamRequest, fresh: boolean): void {
    const now = Date.now();
    if (!fresh) {
      const idle = this.idle;
      while (idle.length > 0) {
        const c = idle.pop() as Connection;
        if (now - c.idleSince < c.keepAliveMs) {
          c.assign(ex, now);
          return;
        }
        c.destroy(); // expired: the upstream may close it any moment
      }
      if (this.conns.size >= this.options.maxConnections) {
        this.queue.push(ex);
        return;
      }
    }
    this.open().assign(ex, now);
  }

  /** Forgets a queued request (its client went away). */
  cancel(ex: UpstreamRequest): void {
    const i = this.queue.indexOf(ex);
    if (i !== -1) this.queue.splice(i, 1);
  }

  /** A connection finished its response and may carry another request. */
  release(c: Connection): void {
    const next = this.queue.shift();
    if (next !== undefined) {
      c.assign(next, Date.now());
      return;
    }
    if (this.closing) {
      c.destroy();
      return;
    }
    c.idleSince = Date.now();
    this.idle.push(c);
  }

  /** A connection is gone (called once per connection). */
  removed(c: Connection): void {
    this.conns.delete(c);
    const i = this.idle.lastIndexOf(c);
    if (i !== -1) this.idle.splice(i, 1);
    // A slot freed up: start a connection for the next waiting request.
    if (this.queue.length > 0 && this.conns.size < this.options.maxConnections) {
      const next = this.queue.shift() as UpstreamRequest;
      this.open().assign(next, Date.now());
    }
    if (this.closing && this.conns.size === 0) {
      const ws = this.closeWaiters;
      this.closeWaiters = [];
      for (const w of ws) w();
    }
  }

  /** Expires idle connections and times out silent busy ones. */
  sweep(now: number): void {
    for (const c of this.conns) c.check(now);
  }

  /** Closes idle connections now and the others once their request is done. */
  close(): Promise<void> {
    this.closing = true;
    for (const c of [...this.idle]) c.destroy();
    if (this.conns.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.closeWaiters.push(resolve));
  }

  /** Destroys every connection (their requests fail). */
  destroyAll(): void {
    for (const c of [...this.conns]) c.fail(timeoutError('edge is shutting down', 'UPSTREAM_CLOSED'));
  }

  private open(): Connection {
    const c = new Connection(this);
    this.conns.add(c);
    return c;
  }
}
