/**
 * What HAProxy logs per request and how (rendered into haproxy.cfg by config.ts, parsed by log-ingest.ts in
 * the helper edge). Kept apart from the parser so the daemon, which only renders the config, does not load
 * the edge's proxy and access log modules.
 */

/** The helper's server name in HAProxy's static backends (config.ts). */
export const HELPER_SERVER = 'builtin';
/** HAProxy's backend for unknown hosts (config.ts). */
export const NOT_FOUND_BACKEND = 'be_not_found';

/**
 * The fields of one log line, in order, separated by tabs. Client-controlled text goes through `json(utf8s)`,
 * which escapes tabs, quotes, backslashes and everything outside ASCII, so a raw tab only ever separates
 * fields and a field without a backslash is its own value. HAProxy prints `-` for a missing sample. The URI
 * comes last: a line cut at `len` keeps every other field. Variables set in the frontend: txn.t0 (µs at the
 * request), txn.rid (the X-Request-Id the app got), txn.bi/txn.bo (request/response Content-Length),
 * txn.hi/txn.ho (head sizes, only when a body has no Content-Length).
 */
const LOG_FIELDS = [
  '%b', // 0 backend
  '%s', // 1 server
  '%ST', // 2 status (-1: the client left first)
  '%[date(0,us),sub(txn.t0)]', // 3 µs since the request
  '%Ta', // 4 ms active (when 3 is missing)
  '%ci', // 5 client address
  '%[var(txn.bi)]', // 6
  '%[var(txn.bo)]', // 7
  '%[var(txn.hi)]', // 8
  '%[var(txn.ho)]', // 9
  '%U', // 10 bytes received, head included
  '%B', // 11 bytes sent, head included
  '%[capture.req.method,json(utf8s)]', // 12
  '%[var(txn.host),json(utf8s)]', // 13
  '%[var(txn.rid),json(utf8s)]', // 14
  '%[capture.req.uri,json(utf8s)]', // 15
] as const;
export const FIELD_COUNT = LOG_FIELDS.length;

/** HAProxy's log-format, single-quoted in haproxy.cfg (a literal tab inside quotes is kept as is). */
export const LOG_FORMAT = LOG_FIELDS.join('\t');

/**
 * Longest line HAProxy writes. Writes to a pipe up to PIPE_BUF (4096) are atomic, so lines from both
 * threads and from an old worker finishing after a reload never interleave.
 */
export const LOG_LINE_MAX = 4096;

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
