/**
 * Request metrics and access log lines for traffic HAProxy proxies: HAProxy writes one log line per request
 * (LOG_FORMAT) to its stdout, a FIFO the helper edge reads, which records it on the same per-deployment
 * counters and access log files its own proxy uses (metrics.ts, access-log.ts), so the daemon reads both
 * drivers through the same control API and file layout.
 *
 * Requests HAProxy forwarded to the helper itself (static sites, ACME challenges: server `builtin`) are
 * skipped: the helper's proxy already counted them.
 */

import fs from 'node:fs';
import { STATUS_CODES } from 'node:http';
import type { AccessLogFile } from '../access-log.js';
import { accessLine } from '../access-log.js';
import type { DeploymentCounters } from '../metrics.js';
import { normalizeHost } from '../router.js';
import { FIELD_COUNT, HELPER_SERVER, LOG_LINE_MAX, NOT_FOUND_BACKEND } from './log-format.js';

/** One request as HAProxy reported it. */
export interface HaproxyRequest {
  backend: string;
  server: string;
  /** 499 when the client left before a response. */
  status: number;
  durationMs: number;
  method: string;
  host: string;
  path: string;
  requestId: string;
  ip: string;
  bytesIn: number;
  bytesOut: number;
}

/**
 * A field's value: `-` is a missing sample; HAProxy's `#XX` escapes are undone. Bytes come back as latin1
 * characters, as Node's HTTP parser hands header values to the built-in edge.
 */
function text(f: string | undefined): string {
  if (f === undefined || f === '-') return '';
  if (f.indexOf('#') === -1) return f;
  return f.replace(/#([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

function num(f: string | undefined): number | null {
  if (f === undefined || f === '-' || f === '') return null;
  const n = Number(f);
  return Number.isFinite(n) ? n : null;
}

/**
 * Response body bytes: the declared Content-Length, else what HAProxy sent minus the head when the head's
 * size was logged (a chunked or close-delimited body), else none. HAProxy counts the start line, the header
 * block and the payload (without chunk framing); `head` is its header block, the start line is rebuilt (for
 * responses with the standard reason phrase, which Node apps send).
 */
function responseBytes(
  length: number | null,
  sent: number | null,
  head: number | null,
  status: number,
): number {
  if (length !== null) return length;
  if (sent === null || head === null) return 0;
  return Math.max(0, sent - head - 15 - (STATUS_CODES[status] ?? '').length);
}

/**
 * Request body bytes: the declared Content-Length, else for a chunked body (`head` = `N/C`, the header block's
 * size as `req.hdrs` writes it and its header count) what HAProxy received minus the head, else none. HAProxy
 * (2.6) counts a request in its internal form: the start line's three parts, each header's name and value
 * (`N - 4C - 2`: without `: `, line ends and the blank line), 21 bytes of its own, one more for a chunked
 * body's end, then the payload without chunk framing.
 */
function requestBytes(
  length: number | null,
  received: number | null,
  head: string,
  method: string,
  uri: string,
): number {
  if (length !== null) return length;
  const slash = head.indexOf('/');
  if (received === null || slash === -1) return 0;
  const fields = Number(head.slice(0, slash)) - 4 * Number(head.slice(slash + 1)) - 2;
  const counted = method.length + uri.length + 'HTTP/1.1'.length + fields + 21 + 1;
  return Number.isFinite(counted) ? Math.max(0, received - counted) : 0;
}

/** Parses one LOG_FORMAT line; null when it is not one (from another config, or noise). */
export function parseHaproxyLine(line: string): HaproxyRequest | null {
  const f = line.split('\t');
  if (f.length !== FIELD_COUNT) return null;
  const st = num(f[2]);
  if (st === null) return null;
  const status = st < 100 ? 499 : st;
  // A method is a token (HTTP's tchar), never escaped.
  const method = f[11];
  const path = text(f[14]);
  const us = num(f[3]);
  const ta = num(f[4]);
  const durationMs = us !== null && us >= 0 ? us / 1000 : ta !== null && ta >= 0 ? ta : 0;
  // `{host|x-request-id|content-length}` (REQUEST_CAPTURES); `|` inside a value is escaped.
  const cap = f[13].startsWith('{') ? f[13].slice(1, -1).split('|') : [];
  const clientId = text(cap[1]);
  // No body goes out for HEAD, 204, 304 and 1xx, whatever Content-Length says.
  const noBody = method === 'HEAD' || status === 204 || status === 304 || status < 200;
  const ip = text(f[5]);
  return {
    backend: text(f[0]),
    server: text(f[1]),
    status,
    durationMs,
    method,
    host: normalizeHost(text(cap[0])),
    path,
    requestId: clientId !== '' ? clientId : text(f[12]),
    ip: ip.startsWith('::ffff:') ? ip.slice(7) : ip,
    bytesIn: requestBytes(num(cap[2]), num(f[9]), f[7], method, path),
    bytesOut: noBody ? 0 : responseBytes(num(f[6]), num(f[10]), num(f[8]), status),
  };
}

/** What the ingest needs from the helper's proxy. */
export interface RouteRecorders {
  routeRecorder(hostKey: string): { counters: DeploymentCounters; log: AccessLogFile | null } | undefined;
  readonly metrics: { unrouted: number };
}

/** Records one HAProxy log line on the route of its host (counters + access log line). */
export function recordHaproxyLine(proxy: RouteRecorders, line: string): void {
  const r = parseHaproxyLine(line);
  if (r === null || r.server === HELPER_SERVER) return;
  const rec = r.host === '' ? undefined : proxy.routeRecorder(r.host);
  if (rec === undefined || r.backend === NOT_FOUND_BACKEND) {
    proxy.metrics.unrouted++;
    return;
  }
  const c = rec.counters;
  // Upgrades are logged when the tunnel closes: counted as tunnels, not requests (as on the built-in edge).
  if (r.status === 101) {
    c.tunnels++;
    return;
  }
  c.record(r.status, r.durationMs, r.bytesIn, r.bytesOut);
  rec.log?.append(
    accessLine(
      c.logFields,
      JSON.stringify(r.method).slice(1, -1),
      r.host,
      r.path,
      r.status,
      r.durationMs,
      r.bytesIn,
      r.bytesOut,
      r.requestId,
      r.ip,
    ),
  );
}

/**
 * Reads HAProxy's log lines from the FIFO that is its stdout (driver.ts). Opened read-write, so the pipe
 * never reports end-of-file while HAProxy restarts; HAProxy writes without blocking and counts lines it
 * could not write (DroppedLogs) while nobody reads. Lines are ASCII (HAProxy escapes client text as `#XX`).
 *
 * Polled rather than streamed: a stream wakes up for every write, so at full load each read carries one or
 * two lines and the wake-up costs more than the lines (measured ~10–18 µs of helper CPU per line streamed,
 * ~3–4 µs polled). The pipe holds 64 kB (~500 lines), so the pause shrinks while lines keep arriving.
 */
export function readHaproxyLog(fifo: string, proxy: RouteRecorders, log: (msg: string) => void): void {
  const fd = fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  const buf = Buffer.allocUnsafe(POLL_READ_BYTES);
  let rest = '';
  const drain = (): number => {
    let total = 0;
    for (;;) {
      let got: number;
      try {
        got = fs.readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN')
          log(`HAProxy request log pipe: ${(err as Error).message}`);
        return total;
      }
      total += got;
      const text = rest + buf.toString('latin1', 0, got);
      let start = 0;
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
        recordHaproxyLine(proxy, text.slice(start, nl));
        start = nl + 1;
      }
      rest = text.slice(start);
      // Not a log line (no newline within HAProxy's limit): drop it rather than grow.
      if (rest.length > LOG_LINE_MAX) rest = '';
      if (got < buf.length) return total;
    }
  };
  // Runs for the helper's lifetime; the fd closes with the process.
  const tick = () => {
    const bytes = drain();
    setTimeout(tick, bytes >= 32 * 1024 ? 0 : bytes >= 8 * 1024 ? 2 : POLL_IDLE_MS).unref();
  };
  tick();
}

const POLL_READ_BYTES = 256 * 1024;
const POLL_IDLE_MS = 10;
