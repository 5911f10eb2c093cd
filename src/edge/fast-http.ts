/**
 * The built-in edge's fast path for plain HTTP: a lean HTTP/1.1 server side for the requests that make up
 * nearly all traffic, proxied to a replica with no request body.
 *
 * Why: the edge's CPU per proxied request was ~26 µs user + ~17 µs kernel, and Node's http server accounts for
 * ~6 µs of user time per request over a bare head parser (measured side by side on the same hello app). Here a
 * request costs one Buffer.indexOf, one latin1 string, a split of its lines, and its response goes out as one
 * socket write.
 *
 * Scope: every connection of the plain-HTTP listener starts here, and cache hits are answered here too. At its
 * first request this path does not serve itself — a body, Expect, Upgrade, HTTP/1.0, a method other than the
 * common seven, an unusual request target, any malformed or oversized head, or a request the proxy answers
 * itself (edge pages, `[edge]` refusals, redirects, static sites, ACME challenges; see EdgeProxy.fastRequest) —
 * the connection is handed to Node's http.Server with its unread bytes put back (`socket.unshift`, then the
 * server's own 'connection' listener, the documented way to inject a connection), and Node serves it from then
 * on, including that request and its answer to anything malformed. TLS connections never come here.
 *
 * Interface: `new FastHttp(handler, server, opts)` takes over `server`'s 'connection' event; `closeIdle()`,
 * `closeAll()` for shutdown; a connection is the `ClientSide` (client-side.ts) of the request it carries.
 */

import type http from 'node:http';
import { STATUS_CODES } from 'node:http';
import type net from 'node:net';
import type { ClientEvents, ClientSide } from './client-side.js';
import { cannotBeServed, type FastRequestHead, parseFastHead, plausibleStart } from './fast-head.js';

export interface FastRequestHandler {
  /**
   * Serves a parsed request on `client` (`socket` is its connection, `start` its performance.now()); false:
   * Node's server must (nothing was written).
   */
  fastRequest(client: ClientSide, socket: object, head: FastRequestHead, ip: string, start: number): boolean;
}

export interface FastHttpOptions {
  /** Idle time after which a keep-alive connection is closed (Node's keepAliveTimeout). */
  keepAliveMs: number;
  /** Longest time to receive a request head (Node's headersTimeout): then 408 and close. */
  headersTimeoutMs: number;
  /** Largest request head; a longer one goes to Node's server (which answers 431). */
  maxHeaderSize: number;
}

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
/** Bytes of pipelined requests buffered while one is in flight, before the socket is paused. */
const MAX_PENDING = 64 * 1024;
/** Queued response bytes up to this size are copied into one buffer: one write, one syscall. */
const MAX_JOINED = 16 * 1024;
const TIMEOUT_408 = 'HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n';

/** The Date header value, formatted once per second. */
let dateSecond = -1;
let dateValue = '';
function httpDate(): string {
  const now = Date.now();
  const sec = Math.floor(now / 1000);
  if (sec !== dateSecond) {
    dateSecond = sec;
    dateValue = new Date(now).toUTCString();
  }
  return dateValue;
}

function flushLater(c: FastConn): void {
  c.flushQueued = false;
  c.flush();
}

/** One client connection on the fast path; the ClientSide of the request it carries. */
class FastConn implements ClientSide {
  headersSent = false;
  statusCode = 200;
  finished = false;
  /** A request is in flight (its response is not complete). */
  busy = false;
  /** Bytes received and not yet parsed. */
  pending: Buffer | null = null;
  /** When the unparsed head started to arrive (clock), 0: none. */
  headStart = 0;
  /** Bytes of `pending` already checked (see cannotBeServed). */
  private checked = 0;
  lastActive: number;
  private events: ClientEvents | null = null;
  private head: string | null = null;
  private chunked = false;
  private noBody = false;
  private method = '';
  private closeAfter = false;
  /** Response bytes not yet written (see write()). */
  private readonly out: Array<string | Buffer> = [];
  private outBytes = 0;
  flushQueued = false;
  private paused = false;
  private done = false;
  private readonly ip: string;

  constructor(
    readonly fast: FastHttp,
    readonly socket: net.Socket,
  ) {
    this.lastActive = fast.clock;
    const a = socket.remoteAddress ?? '';
    this.ip = a.startsWith('::ffff:') ? a.slice(7) : a;
    socket.on('data', this.onData);
    socket.on('drain', this.onDrain);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('error', this.onError);
  }

  private readonly onDrain = (): void => this.events?.drained();

  private readonly onError = (): void => {}; // 'close' follows

  private readonly onData = (chunk: Buffer): void => {
    if (this.done) return;
    this.lastActive = this.fast.clock;
    const p = this.pending;
    if (p === null) this.checked = 0;
    this.pending = p === null ? chunk : Buffer.concat([p, chunk]);
    if (!this.busy) this.parse();
    else if (this.pending.length > MAX_PENDING && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  };

  /** Serves the buffered requests one after the other, or hands the connection over. */
  private parse(): void {
    while (this.pending !== null && !this.busy && !this.done) {
      const buf = this.pending;
      const end = buf.indexOf(CRLFCRLF);
      if (end === -1) {
        // Node's server answers what cannot become a head this path serves (too long, bare LF/CR line ends,
        // obs-fold, control characters, not one of its methods): it refuses at once what it cannot parse.
        if (
          buf.length > this.fast.opts.maxHeaderSize ||
          cannotBeServed(buf, this.checked) ||
          (this.checked < 8 && !plausibleStart(buf))
        ) {
          this.handOver();
        } else {
          this.checked = buf.length;
          if (this.headStart === 0) this.headStart = this.fast.clock;
        }
        return;
      }
      this.checked = 0;
      // A head near or over Node's limit is Node's to judge (431): forwarded, the app's own parser refused it
      // and the edge carried on with the next pipelined request, which Node's server never reaches.
      const req = end > this.fast.headLimit ? null : parseFastHead(buf.toString('latin1', 0, end));
      if (req === null) {
        this.handOver();
        return;
      }
      this.headersSent = false;
      this.statusCode = 200;
      this.finished = false;
      this.head = null;
      this.method = req.method;
      this.closeAfter = req.close;
      this.busy = true;
      this.headStart = 0;
      this.pending = end + 4 === buf.length ? null : buf.subarray(end + 4);
      const start = performance.now();
      if (!this.fast.handler.fastRequest(this, this.socket, req, this.ip, start)) {
        this.busy = false;
        this.pending = buf;
        this.handOver();
        return;
      }
    }
    if (this.paused && !this.busy) {
      this.paused = false;
      this.socket.resume();
    }
  }

  /** Node's server serves this connection from now on, starting with the unparsed bytes. */
  private handOver(): void {
    this.done = true;
    this.fast.conns.delete(this);
    const s = this.socket;
    s.off('data', this.onData);
    s.off('drain', this.onDrain);
    s.off('end', this.onEnd);
    s.off('close', this.onClose);
    s.off('error', this.onError);
    if (this.pending !== null) s.unshift(this.pending);
    this.pending = null;
    this.fast.toNode(s);
    if (this.paused) s.resume();
  }

  private readonly onEnd = (): void => {
    // As Node's server (httpAllowHalfOpen false): a client that ends its side aborts what is in flight.
    this.done = true;
    this.pending = null;
    const ev = this.events;
    this.events = null;
    this.busy = false;
    ev?.clientClosed();
    if (this.socket.writable) this.socket.end();
  };

  private readonly onClose = (): void => {
    this.done = true;
    this.fast.conns.delete(this);
    const ev = this.events;
    this.events = null;
    this.busy = false;
    ev?.clientClosed();
  };

  // ---- ClientSide

  bind(events: ClientEvents): void {
    this.events = events;
  }

  unbind(): void {
    this.events = null;
  }

  writeHead(status: number, reason: string, headers: string[]): void {
    this.statusCode = status;
    this.headersSent = true;
    let hasLength = false;
    let hasDate = false;
    let h = `HTTP/1.1 ${status} ${reason !== '' ? reason : (STATUS_CODES[status] ?? 'unknown')}\r\n`;
    for (let i = 0; i < headers.length; i += 2) {
      const k = headers[i];
      if (k.length === 14) hasLength ||= k.toLowerCase() === 'content-length';
      else if (k.length === 4) hasDate ||= k.toLowerCase() === 'date';
      h += `${k}: ${headers[i + 1]}\r\n`;
    }
    this.noBody = this.method === 'HEAD' || status === 204 || status === 304;
    this.chunked = !this.noBody && !hasLength;
    if (!hasDate) h += `date: ${httpDate()}\r\n`;
    h += this.closeAfter ? 'connection: close\r\n' : this.fast.keepAliveLines;
    this.head = this.chunked ? `${h}transfer-encoding: chunked\r\n\r\n` : `${h}\r\n`;
  }

  /**
   * Response bytes go out once per tick (and at the end of the response): a body chunk and the end that
   * usually follows in the same upstream read leave as one buffer, in one write, like Node's corked responses.
   */
  write(chunk: Buffer): boolean {
    if (!this.noBody && chunk.length > 0) {
      this.pushHead();
      this.pushBody(chunk, false);
      if (this.outBytes > MAX_JOINED) this.flush();
      else if (!this.flushQueued) {
        this.flushQueued = true;
        process.nextTick(flushLater, this);
      }
    }
    return !this.socket.writableNeedDrain;
  }

  end(last: Buffer | null): void {
    if (this.finished) return;
    this.finished = true;
    this.pushHead();
    if (!this.noBody && last !== null && last.length > 0) {
      this.pushBody(last, true);
    } else if (this.chunked) {
      this.push('0\r\n\r\n');
    }
    this.flush();
    this.events = null;
    this.busy = false;
    this.lastActive = this.fast.clock;
    if (this.closeAfter) {
      this.done = true;
      this.pending = null;
      this.socket.end();
      return;
    }
    if (this.pending !== null || this.paused) this.parse();
  }

  /** Queues body bytes, framed as a chunk when chunked (with the last chunk when `final`). */
  private pushBody(chunk: Buffer, final: boolean): void {
    if (!this.chunked) {
      this.push(chunk);
      return;
    }
    this.push(`${chunk.length.toString(16)}\r\n`);
    this.push(chunk);
    this.push(final ? '\r\n0\r\n\r\n' : '\r\n');
  }

  private pushHead(): void {
    if (this.head === null) return;
    this.push(this.head);
    this.head = null;
  }

  /** Queues bytes (a string is latin1: one byte per character). */
  private push(part: string | Buffer): void {
    this.out.push(part);
    this.outBytes += part.length;
  }

  /** Writes the queued bytes: one buffer when small, else the parts in one corked writev. */
  flush(): void {
    const parts = this.out;
    const n = parts.length;
    if (n === 0) return;
    const s = this.socket;
    if (n === 1) {
      const p = parts[0];
      if (typeof p === 'string') s.write(p, 'latin1');
      else s.write(p);
    } else if (this.outBytes <= MAX_JOINED) {
      const buf = Buffer.allocUnsafe(this.outBytes);
      let o = 0;
      for (const p of parts) {
        if (typeof p === 'string') o += buf.write(p, o, 'latin1');
        else o += p.copy(buf, o);
      }
      s.write(buf);
    } else {
      // Buffers are copied: the socket keeps what it cannot write at once, and an upstream chunk lives in a read
      // buffer that the next read reuses (upstream.ts).
      s.cork();
      for (const p of parts) {
        if (typeof p === 'string') s.write(p, 'latin1');
        else s.write(Buffer.from(p));
      }
      s.uncork();
    }
    parts.length = 0;
    this.outBytes = 0;
  }

  destroy(): void {
    this.out.length = 0;
    this.outBytes = 0;
    this.events = null;
    this.busy = false;
    this.done = true;
    this.socket.destroy();
  }

  sendPage(status: number, html: string): number {
    const body = Buffer.from(html, 'utf8');
    this.writeHead(status, '', [
      'content-type',
      'text/html; charset=utf-8',
      'content-length',
      String(body.length),
      'cache-control',
      'no-store',
    ]);
    const bytes = this.noBody ? 0 : body.length;
    this.end(body);
    return bytes;
  }

  /** The timeouts Node's server would apply; called about once a second. */
  sweep(now: number): void {
    if (this.busy || this.done) return;
    const o = this.fast.opts;
    if (this.headStart !== 0 && now - this.headStart > o.headersTimeoutMs) {
      this.done = true;
      this.socket.end(TIMEOUT_408, 'latin1');
      this.socket.destroySoon();
    } else if (this.pending === null && now - this.lastActive > o.keepAliveMs) {
      this.socket.destroy();
    }
  }

  /** Closes the connection when no request is in flight. */
  closeIfIdle(): void {
    if (!this.busy) this.socket.destroy();
  }
}

export class FastHttp {
  readonly conns = new Set<FastConn>();
  /** Date.now() as of the last sweep: coarse time for idle checks, without a clock read per request. */
  clock = Date.now();
  /** The Connection and Keep-Alive lines of a kept-alive response (what Node's server sends). */
  readonly keepAliveLines: string;
  /** Longest head this path serves: a margin below maxHeaderSize, whatever llhttp counts in it. */
  readonly headLimit: number;
  private readonly nodeListeners: Array<(socket: net.Socket) => void>;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    readonly handler: FastRequestHandler,
    private readonly server: http.Server,
    readonly opts: FastHttpOptions,
  ) {
    this.headLimit = opts.maxHeaderSize - 1024;
    this.keepAliveLines = `connection: keep-alive\r\nkeep-alive: timeout=${Math.floor(opts.keepAliveMs / 1000)}\r\n`;
    this.nodeListeners = server.listeners('connection') as Array<(socket: net.Socket) => void>;
    server.removeAllListeners('connection');
    server.on('connection', (socket: net.Socket) => this.accept(socket));
  }

  private accept(socket: net.Socket): void {
    this.clock = Date.now();
    this.conns.add(new FastConn(this, socket));
    if (this.sweeper === null) this.sweeper = setInterval(() => this.sweep(), 1000).unref();
  }

  /** Hands a connection to Node's http server. */
  toNode(socket: net.Socket): void {
    for (const l of this.nodeListeners) l.call(this.server, socket);
  }

  private sweep(): void {
    const now = Date.now();
    this.clock = now;
    for (const c of this.conns) c.sweep(now);
    if (this.conns.size === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }

  /** Closes connections with no request in flight (keep-alive ones become idle after their response). */
  closeIdle(): void {
    for (const c of this.conns) c.closeIfIdle();
  }

  closeAll(): void {
    for (const c of this.conns) c.socket.destroy();
  }
}
