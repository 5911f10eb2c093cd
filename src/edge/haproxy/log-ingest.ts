/**
 * Request metrics and access log lines for traffic HAProxy proxies: HAProxy sends one JSON log line per
 * request (LOG_FORMAT, UDP on loopback) to the helper edge, which records it on the same per-deployment
 * counters and access log files its own proxy uses (metrics.ts, access-log.ts), so the daemon reads both
 * drivers through the same control API and file layout.
 *
 * Requests HAProxy forwarded to the helper itself (static sites, ACME challenges: server `builtin`) are
 * skipped: the helper's proxy already counted them.
 */

import dgram from 'node:dgram';
import { STATUS_CODES } from 'node:http';
import type { AccessLogFile } from '../access-log.js';
import { accessLine } from '../access-log.js';
import type { DeploymentCounters } from '../metrics.js';
import { normalizeHost } from '../proxy.js';

/** The helper's server name in HAProxy's static backends (config.ts). */
export const HELPER_SERVER = 'builtin';
const NOT_FOUND_BACKEND = 'be_not_found';

/**
 * HAProxy's log-format (single-quoted in haproxy.cfg). Every value is a JSON string: HAProxy prints `-` for
 * a missing sample, and client-controlled text goes through `json(utf8s)`. Variables set in the frontend:
 * txn.t0 (µs at the request), txn.rid (the X-Request-Id the app got), txn.bi/txn.bo (request/response
 * Content-Length), txn.hi/txn.ho (head sizes, only when a body has no Content-Length).
 */
export const LOG_FORMAT =
  '{"b":"%b","s":"%s","st":"%ST","us":"%[date(0,us),sub(txn.t0)]","ta":"%Ta",' +
  '"m":"%[capture.req.method,json(utf8s)]","h":"%[var(txn.host),json(utf8s)]",' +
  '"u":"%[capture.req.uri,json(utf8s)]","id":"%[var(txn.rid),json(utf8s)]","ip":"%ci",' +
  '"bi":"%[var(txn.bi)]","bo":"%[var(txn.bo)]","hi":"%[var(txn.hi)]","ho":"%[var(txn.ho)]","U":"%U","B":"%B"}';

/** The frontend rules that fill the variables LOG_FORMAT reads, in rule order (t0 first). */
export const LOG_VAR_RULES = {
  start: '  http-request set-var(txn.t0) date(0,us)',
  request: [
    '  http-request set-var(txn.rid) req.hdr(x-request-id)',
    '  http-request set-var(txn.bi) req.hdr(content-length)',
    '  http-request set-var(txn.hi) req.hdrs,length unless { req.hdr(content-length) -m found }',
  ],
  // http-after-response: also runs for HAProxy's own answers (pages, policy refusals, cache hits).
  response: [
    '  http-after-response set-var(txn.bo) res.hdr(content-length)',
    '  http-after-response set-var(txn.ho) res.hdrs,length unless { res.hdr(content-length) -m found }',
  ],
};

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

type Raw = Record<string, unknown>;

function str(r: Raw, k: string): string {
  const v = r[k];
  return typeof v === 'string' && v !== '-' ? v : '';
}

function num(r: Raw, k: string): number | null {
  const v = str(r, k);
  if (v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/**
 * Body bytes: the declared Content-Length, else what HAProxy moved minus the head. HAProxy counts the start
 * line, the header block and the payload (without chunk framing); `head` is its header block, the start line
 * is rebuilt (for responses with the standard reason phrase, which Node apps send).
 */
function bodyBytes(
  length: number | null,
  moved: number | null,
  head: number | null,
  startLine: number,
): number {
  if (length !== null) return length;
  if (moved === null) return 0;
  return Math.max(0, moved - (head ?? 0) - startLine);
}

/** Parses one LOG_FORMAT line; null when it is not one (truncated, or from another config). */
export function parseHaproxyLine(line: string): HaproxyRequest | null {
  let r: Raw;
  try {
    r = JSON.parse(line) as Raw;
  } catch {
    return null;
  }
  if (r === null || typeof r !== 'object') return null;
  const st = num(r, 'st');
  if (st === null) return null;
  const status = st < 100 ? 499 : st;
  const method = str(r, 'm');
  const path = str(r, 'u');
  const us = num(r, 'us');
  const ta = num(r, 'ta');
  const durationMs = us !== null && us >= 0 ? us / 1000 : ta !== null && ta >= 0 ? ta : 0;
  // No body goes out for HEAD, 204, 304 and 1xx, whatever Content-Length says.
  const noBody = method === 'HEAD' || status === 204 || status === 304 || status < 200;
  return {
    backend: str(r, 'b'),
    server: str(r, 's'),
    status,
    durationMs,
    method,
    host: normalizeHost(str(r, 'h')),
    path,
    requestId: str(r, 'id'),
    ip: str(r, 'ip').replace(/^::ffff:/, ''),
    // `GET /path HTTP/1.1\r\n` and `HTTP/1.1 404 Not Found\r\n`
    bytesIn: bodyBytes(num(r, 'bi'), num(r, 'U'), num(r, 'hi'), Buffer.byteLength(method) + path.length + 12),
    bytesOut: noBody
      ? 0
      : bodyBytes(num(r, 'bo'), num(r, 'B'), num(r, 'ho'), 15 + (STATUS_CODES[status] ?? '').length),
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

/** Listens for HAProxy's log datagrams on 127.0.0.1:port. */
export function listenHaproxyLog(
  port: number,
  proxy: RouteRecorders,
  log: (msg: string) => void,
): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
    sock.on('message', (msg) => {
      // `format raw` sends the line as is; a trailing newline is harmless to JSON.parse.
      recordHaproxyLine(proxy, msg.toString('utf8'));
    });
    sock.once('error', reject);
    sock.bind(port, '127.0.0.1', () => {
      sock.off('error', reject);
      sock.on('error', (err) => log(`HAProxy log socket: ${err.message}`));
      resolve(sock);
    });
  });
}
