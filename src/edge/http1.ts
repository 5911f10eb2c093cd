/**
 * A small, strict HTTP/1.x response parser for the edge's upstream connections (RFC 9112).
 *
 * It frames responses (Content-Length, chunked, close-delimited, no body for HEAD/1xx/204/304), decodes
 * chunked bodies, and consumes the hop-by-hop fields that only concern the connection (Connection,
 * Keep-Alive, Transfer-Encoding, TE, Trailer, Upgrade, Proxy-Connection, Proxy-Authenticate): the head it
 * reports holds the end-to-end fields only, as a flat [name, value, name, value, ...] array (latin1
 * strings, exactly as received apart from optional whitespace around values). A head with a control character
 * other than HT (a bare CR included) or a field name that is not a token is refused: the edge's fast path
 * (fast-http.ts) writes these fields to the client as they are.
 *
 * Body chunks are zero-copy views of the buffers fed in. Trailers are read and dropped.
 */

export interface ResponseHandler {
  /** A final (non-1xx) response head. Framing details are on the parser (keepAlive, contentLength...). */
  onResponseHead(status: number, reason: string, headers: string[]): void;
  onResponseData(chunk: Buffer): void;
  /** The response is complete. */
  onResponseEnd(): void;
}

const S_HEAD = 0;
const S_LENGTH = 1;
const S_CHUNK_SIZE = 2;
const S_CHUNK_DATA = 3;
const S_CHUNK_CR = 4;
const S_CHUNK_LF = 5;
const S_TRAILERS = 6;
const S_CLOSE = 7;
const S_DONE = 8;

/** Longest chunk-size line (size + extensions) accepted. */
const MAX_CHUNK_LINE = 4096;

export function parseError(message: string, code = 'UPSTREAM_BAD_RESPONSE'): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * In a head: a control character other than HT, CR and LF (a negated class: measured ~2x faster than listing
 * the control characters, ~3x faster than also matching unpaired CR/LF, which the parsers check per line).
 */
export const CONTROL_CHAR = /[^\t\r\n\x20-\x7e\x80-\xff]/;
/** A field name (RFC 9110 token). */
export const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function isOws(c: number): boolean {
  return c === 32 || c === 9;
}

/** A field value: `s` from `start` to `end` without the optional whitespace around it (RFC 9110 §5.5). */
export function fieldValue(s: string, start: number, end: number): string {
  let vs = start;
  let ve = end;
  while (vs < ve && isOws(s.charCodeAt(vs))) vs++;
  while (ve > vs && isOws(s.charCodeAt(ve - 1))) ve--;
  return s.slice(vs, ve);
}

/**
 * Parses a non-negative decimal Content-Length; -1 if invalid. Digits only, as llhttp (Node's parser, which the
 * app and clients use) reads it: an "n, n" list that RFC 9110 tolerates is refused there, so it is here too.
 */
function parseContentLength(v: string): number {
  if (v.length === 0 || v.length > 15) return -1;
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    n = n * 10 + (c - 48);
  }
  return n;
}

/**
 * A Transfer-Encoding list ends in chunked (the body is chunked), and lists it nowhere else: -1 when it lists
 * chunked elsewhere or twice (refused, as llhttp does), 0 when not chunked (close-delimited), 1 when chunked.
 */
function chunkedCoding(te: string): number {
  if (te.length === 7 && te.toLowerCase() === 'chunked') return 1;
  const parts = te.toLowerCase().split(',');
  for (let i = 0; i < parts.length - 1; i++) if (parts[i].trim() === 'chunked') return -1;
  return parts[parts.length - 1].trim() === 'chunked' ? 1 : 0;
}

/** The `timeout=N` parameter of a Keep-Alive header, in seconds; -1 when absent or invalid. */
function keepAliveTimeoutSeconds(v: string): number {
  // The usual `timeout=N` alone (Node's servers send it on every response) without a regex match.
  if (v.length > 8 && v.length <= 18 && v.startsWith('timeout=')) {
    let n = 0;
    for (let i = 8; i < v.length && n >= 0; i++) {
      const c = v.charCodeAt(i);
      n = c >= 48 && c <= 57 ? n * 10 + (c - 48) : -1;
    }
    if (n >= 0) return n;
  }
  const m = /(?:^|[,;\s])timeout\s*=\s*(\d+)/i.exec(v);
  return m === null ? -1 : Number(m[1]);
}

export class ResponseParser {
  /** The connection may carry another request after this response (set once a final head is parsed). */
  keepAlive = true;
  /** Keep-Alive `timeout` advertised by the upstream, in seconds; -1 if none. */
  keepAliveTimeout = -1;
  /** Content-Length of the current response; -1 if unknown (chunked or close-delimited). */
  contentLength = -1;
  /** Value of the response's Connection header when it lists extra (hop-by-hop) field names, else null. */
  connectionHeader: string | null = null;
  /** Bytes of the current response received so far (head included). */
  received = 0;

  private state = S_HEAD;
  private noBody = false;
  private stopped = false;
  private partial: Buffer | null = null;
  private line = '';
  private remaining = 0;
  private trailerBytes = 0;

  constructor(
    private readonly handler: ResponseHandler,
    private readonly maxHeaderSize: number,
  ) {}

  /** Prepares for the response to the next request; noBody for HEAD requests. */
  reset(noBody: boolean): void {
    this.state = S_HEAD;
    this.noBody = noBody;
    this.stopped = false;
    this.partial = null;
    this.line = '';
    this.received = 0;
    this.keepAlive = true;
    this.keepAliveTimeout = -1;
    this.contentLength = -1;
    this.connectionHeader = null;
  }

  /** Stops parsing the buffer being executed (the connection is being torn down by a callback). */
  stop(): void {
    this.stopped = true;
  }

  /** True once the current response is complete. */
  get complete(): boolean {
    return this.state === S_DONE;
  }

  /** Feeds bytes; returns an error for a malformed response or bytes after the end of the response. */
  execute(buf: Buffer): Error | null {
    const len = buf.length;
    this.received += len;
    let pos = 0;
    while (pos < len) {
      if (this.stopped) return null;
      switch (this.state) {
        case S_HEAD: {
          let data = buf;
          let start = pos;
          let from = pos;
          const prev = this.partial;
          if (prev !== null) {
            data = Buffer.concat([prev, buf.subarray(pos)]);
            start = 0;
            from = prev.length > 3 ? prev.length - 3 : 0;
          }
          const end = data.indexOf('\r\n\r\n', from, 'latin1');
          if (end === -1) {
            if (data.length - start > this.maxHeaderSize) {
              return parseError('upstream response head too large', 'UPSTREAM_HEADERS_TOO_LARGE');
            }
            // A copy: `buf` may be a read buffer that the next read reuses (upstream.ts).
            this.partial = Buffer.from(start === 0 ? data : data.subarray(start));
            return null;
          }
          if (end - start > this.maxHeaderSize) {
            return parseError('upstream response head too large', 'UPSTREAM_HEADERS_TOO_LARGE');
          }
          this.partial = null;
          const head = data.toString('latin1', start, end);
          pos = prev === null ? end + 4 : pos + (end + 4 - prev.length);
          const err = this.head(head);
          if (err !== null) return err;
          break;
        }
        case S_LENGTH:
        case S_CHUNK_DATA: {
          const avail = len - pos;
          if (avail < this.remaining) {
            this.remaining -= avail;
            this.handler.onResponseData(pos === 0 ? buf : buf.subarray(pos));
            return null;
          }
          const n = this.remaining;
          this.remaining = 0;
          const chunk = buf.subarray(pos, pos + n);
          pos += n;
          if (this.state === S_LENGTH) {
            this.state = S_DONE;
            this.handler.onResponseData(chunk);
            if (this.stopped) return null;
            this.handler.onResponseEnd();
          } else {
            this.state = S_CHUNK_CR;
            this.handler.onResponseData(chunk);
          }
          break;
        }
        case S_CHUNK_CR:
          if (buf[pos++] !== 13) return parseError('invalid chunked encoding (missing CRLF after chunk)');
          this.state = S_CHUNK_LF;
          break;
        case S_CHUNK_LF:
          if (buf[pos++] !== 10) return parseError('invalid chunked encoding (missing CRLF after chunk)');
          this.state = S_CHUNK_SIZE;
          break;
        case S_CHUNK_SIZE:
        case S_TRAILERS: {
          const nl = buf.indexOf(10, pos);
          const limit = this.state === S_CHUNK_SIZE ? MAX_CHUNK_LINE : this.maxHeaderSize;
          if (nl === -1) {
            this.line += buf.toString('latin1', pos, len);
            if (this.line.length + (this.state === S_TRAILERS ? this.trailerBytes : 0) > limit) {
              return parseError('invalid chunked encoding (line too long)');
            }
            return null;
          }
          const line = this.line + buf.toString('latin1', pos, nl);
          this.line = '';
          pos = nl + 1;
          if (line.length === 0 || line.charCodeAt(line.length - 1) !== 13) {
            return parseError('invalid chunked encoding (bare LF)');
          }
          if (this.state === S_TRAILERS) {
            if (line.length === 1) {
              this.state = S_DONE;
              this.handler.onResponseEnd();
            } else {
              this.trailerBytes += line.length + 1;
              if (this.trailerBytes > this.maxHeaderSize) return parseError('upstream trailers too large');
              // A field, or this is not where the response ends for llhttp (a next response read as trailers).
              const colon = line.indexOf(':');
              if (colon <= 0 || !TOKEN.test(line.slice(0, colon)) || CONTROL_CHAR.test(line.slice(0, -1))) {
                return parseError('invalid upstream trailer');
              }
            }
            break;
          }
          const size = this.chunkSize(line);
          if (size < 0) return parseError('invalid chunk size');
          if (size === 0) {
            this.state = S_TRAILERS;
            this.trailerBytes = 0;
          } else {
            this.state = S_CHUNK_DATA;
            this.remaining = size;
          }
          break;
        }
        case S_CLOSE:
          this.handler.onResponseData(pos === 0 ? buf : buf.subarray(pos));
          return null;
        default:
          // S_DONE: the upstream sent more than the response it owed (no pipelining here).
          return parseError('upstream sent data after the response', 'UPSTREAM_EXTRA_DATA');
      }
    }
    return null;
  }

  /**
   * The upstream closed its side. Returns null when that completed the response (close-delimited body) or
   * the response was already complete; 'empty' when nothing of a response had arrived; else an error.
   */
  finish(): Error | 'empty' | null {
    switch (this.state) {
      case S_DONE:
        return null;
      case S_CLOSE:
        this.state = S_DONE;
        this.keepAlive = false;
        this.handler.onResponseEnd();
        return null;
      case S_HEAD:
        if (this.received === 0) return 'empty';
        return parseError('upstream closed the connection in the middle of the response head', 'ECONNRESET');
      default:
        return parseError('upstream closed the connection before the end of the response body', 'ECONNRESET');
    }
  }

  private chunkSize(line: string): number {
    const end = line.length - 1; // before the CR
    let size = 0;
    let i = 0;
    for (; i < end; i++) {
      const c = line.charCodeAt(i);
      let d: number;
      if (c >= 48 && c <= 57) d = c - 48;
      else if (c >= 97 && c <= 102) d = c - 87;
      else if (c >= 65 && c <= 70) d = c - 55;
      else break;
      if (i >= 13) return -1; // > 2^52
      size = size * 16 + d;
    }
    if (i === 0) return -1;
    // Extensions (ignored) right after the size: llhttp refuses whitespace before them.
    if (i < end && line.charCodeAt(i) !== 59 /* ; */) return -1;
    return size;
  }

  /** Parses one head (without its final CRLFCRLF), reports final heads and sets the body state. */
  private head(s: string): Error | null {
    // status line: HTTP/1.x SP 3DIGIT [SP reason]
    let eol = s.indexOf('\n');
    const statusEnd = eol === -1 ? s.length : eol - 1;
    if (
      statusEnd < 12 ||
      !s.startsWith('HTTP/1.') ||
      (s.charCodeAt(7) !== 48 && s.charCodeAt(7) !== 49) ||
      s.charCodeAt(8) !== 32 ||
      (statusEnd > 12 && s.charCodeAt(12) !== 32) ||
      (eol !== -1 && s.charCodeAt(eol - 1) !== 13)
    ) {
      return parseError('invalid upstream status line');
    }
    const d0 = s.charCodeAt(9) - 48;
    const d1 = s.charCodeAt(10) - 48;
    const d2 = s.charCodeAt(11) - 48;
    if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9)
      return parseError('invalid upstream status');
    const status = d0 * 100 + d1 * 10 + d2;
    if (CONTROL_CHAR.test(s) || s.indexOf('\r') !== (eol === -1 ? -1 : statusEnd)) {
      return parseError('invalid character in upstream response head');
    }
    const http10 = s.charCodeAt(7) === 48;
    const reason = statusEnd > 13 ? s.slice(13, statusEnd) : '';

    const headers: string[] = [];
    let contentLength = -1;
    let te: string | null = null;
    let close = false;
    let keepAliveToken = false;
    let extraConnection: string | null = null;
    let kaTimeout = -1;
    let p = eol + 1;
    while (eol !== -1) {
      eol = s.indexOf('\n', p);
      const lineEnd = eol === -1 ? s.length : eol - 1;
      if (eol !== -1 && s.charCodeAt(lineEnd) !== 13)
        return parseError('invalid upstream header line (bare LF)');
      if (s.indexOf('\r', p) !== (eol === -1 ? -1 : lineEnd))
        return parseError('invalid upstream header line (bare CR)');
      const colon = s.indexOf(':', p);
      if (colon <= p || colon > lineEnd) return parseError('invalid upstream header line');
      const name = s.slice(p, colon);
      if (!TOKEN.test(name)) return parseError('invalid upstream header name');
      const value = fieldValue(s, colon + 1, lineEnd);
      p = eol + 1;
      switch (name.length) {
        case 2:
          if (name.toLowerCase() === 'te') continue;
          break;
        case 7: {
          const l = name.toLowerCase();
          if (l === 'trailer') continue;
          if (l === 'upgrade') continue;
          break;
        }
        case 10: {
          const l = name.toLowerCase();
          if (l === 'connection') {
            // One token, as nearly every response has: no split.
            const one = value.length <= 10 ? value.toLowerCase() : '';
            if (one === 'keep-alive') {
              keepAliveToken = true;
              continue;
            }
            if (one === 'close') {
              close = true;
              continue;
            }
            let extra = false;
            for (const part of value.split(',')) {
              const t = part.trim().toLowerCase();
              if (t === 'close') close = true;
              else if (t === 'keep-alive') keepAliveToken = true;
              else if (t !== '' && t !== 'upgrade') extra = true;
            }
            if (extra) extraConnection = extraConnection === null ? value : `${extraConnection}, ${value}`;
            continue;
          }
          if (l === 'keep-alive') {
            kaTimeout = keepAliveTimeoutSeconds(value);
            continue;
          }
          break;
        }
        case 14:
          if (name.toLowerCase() === 'content-length') {
            // One, digits only, no tab around it (llhttp refuses each of these).
            const n = parseContentLength(value);
            if (
              n === -1 ||
              contentLength !== -1 ||
              s.charCodeAt(colon + 1) === 9 ||
              s.charCodeAt(lineEnd - 1) === 9
            ) {
              return parseError('invalid upstream Content-Length');
            }
            contentLength = n;
          }
          break;
        case 16:
          if (name.toLowerCase() === 'proxy-connection') continue;
          break;
        case 17:
          if (name.toLowerCase() === 'transfer-encoding') {
            te = te === null ? value : `${te}, ${value}`;
            continue;
          }
          break;
        case 18:
          if (name.toLowerCase() === 'proxy-authenticate') continue;
          break;
      }
      headers.push(name, value);
    }

    if (status < 200) {
      // 1xx: interim (e.g. 100, 103), not forwarded; the final response follows on the same connection.
      // 101 would switch protocols, which no request sent on this path asked for.
      if (status === 101) return parseError('unexpected 101 response from upstream');
      return null;
    }

    this.keepAlive = http10 ? keepAliveToken && !close : !close;
    this.keepAliveTimeout = kaTimeout;
    this.connectionHeader = extraConnection;
    let state = S_DONE;
    if (te !== null && contentLength !== -1) {
      return parseError('upstream response has both Transfer-Encoding and Content-Length');
    }
    if (this.noBody || status === 204 || status === 304) {
      this.contentLength = status === 204 ? 0 : contentLength;
    } else if (te !== null) {
      const chunked = chunkedCoding(te);
      if (chunked === -1) return parseError('invalid upstream Transfer-Encoding');
      if (chunked === 1) {
        state = S_CHUNK_SIZE;
      } else {
        state = S_CLOSE; // another final coding: the body runs until the connection closes
        this.keepAlive = false;
      }
    } else if (contentLength !== -1) {
      this.contentLength = contentLength;
      if (contentLength > 0) {
        state = S_LENGTH;
        this.remaining = contentLength;
      }
    } else {
      state = S_CLOSE;
      this.keepAlive = false;
    }
    this.state = state;
    this.handler.onResponseHead(status, reason, headers);
    if (state === S_DONE && !this.stopped) this.handler.onResponseEnd();
    return null;
  }
}
