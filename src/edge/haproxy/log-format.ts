/**
 * What HAProxy logs per request and how (rendered into haproxy.cfg by config.ts, parsed by log-ingest.ts in
 * the helper edge). Kept apart from the parser so the daemon, which only renders the config, does not load
 * the edge's proxy and access log modules.
 */

import { createHash } from 'node:crypto';

/** The helper's server name in HAProxy's static backends (config.ts). */
export const HELPER_SERVER = 'builtin';
/** HAProxy's backend for unknown hosts (config.ts). */
export const NOT_FOUND_BACKEND = 'be_not_found';

/**
 * The request headers HAProxy captures while it parses the request, in order (`%hr` logs them as
 * `{host|id|length}`). Captures cost less per request than `set-var` rules. X-Request-Id is the client's: when
 * there is none, the app got HAProxy's unique id (`%ID`). Longer values are logged cut at `len`.
 */
export const REQUEST_CAPTURES = [
  { header: 'Host', len: 256 },
  { header: 'X-Request-Id', len: 256 },
  { header: 'Content-Length', len: 20 },
] as const;

/**
 * The fields of one log line, in order, separated by tabs. Client-controlled text is written by HAProxy's own
 * log encoding: `%hr` and `%HU` write control characters, bytes >= 127, `"` and `#` (and `{|}` in `%hr`) as
 * `#XX`, so a raw tab only ever separates fields; `%HM` is a method token. HAProxy prints `-` for a missing
 * sample. The URI comes last: a line cut at `len` keeps every other field. Variables set by the rules below:
 * txn.t0 (µs at the request), txn.bo (response Content-Length, also of HAProxy's own answers), txn.hi (the
 * request's header block size and header count, `N/C`, only for a chunked request body), txn.ho (the response
 * head's size, only when the response has no Content-Length).
 */
const LOG_FIELDS = [
  '%b', // 0 backend
  '%s', // 1 server
  '%ST', // 2 status (-1: the client left first)
  '%[date(0,us),sub(txn.t0)]', // 3 µs since the request
  '%Ta', // 4 ms active (when 3 is missing)
  '%ci', // 5 client address
  '%[var(txn.bo)]', // 6
  '%[var(txn.hi)]', // 7
  '%[var(txn.ho)]', // 8
  '%U', // 9 bytes received, head included
  '%B', // 10 bytes sent, head included
  '%HM', // 11 method
  '%ID', // 12 HAProxy's unique id
  '%hr', // 13 {host|x-request-id|content-length}
  '%HU', // 14 URI
] as const;
export const FIELD_COUNT = LOG_FIELDS.length;

/** HAProxy's log-format, single-quoted in haproxy.cfg (a literal tab inside quotes is kept as is). */
export const LOG_FORMAT = LOG_FIELDS.join('\t');

/**
 * Names this format and its captures. The helper edge reports it in /health; the driver restarts a helper
 * that reads another one (left running by an older Berth), which would drop every line it cannot parse.
 */
export const LOG_FORMAT_ID = createHash('sha256')
  .update(JSON.stringify([LOG_FORMAT, REQUEST_CAPTURES]))
  .digest('hex')
  .slice(0, 16);

/**
 * Longest line HAProxy writes. Writes to a pipe up to PIPE_BUF (4096) are atomic, so lines from both
 * threads and from an old worker finishing after a reload never interleave.
 */
export const LOG_LINE_MAX = 4096;

/**
 * The frontend rules that fill the variables LOG_FORMAT reads. `request` goes first, before any rule adds a
 * header: txn.hi describes the head as the client sent it. A request without Content-Length or
 * Transfer-Encoding has no body (HTTP/1.1 requests are never close-delimited), so only a chunked one needs it.
 */
export const LOG_VAR_RULES = {
  request: [
    '  http-request set-var(txn.t0) date(0,us)',
    "  http-request set-var-fmt(txn.hi) '%[req.hdrs,length]/%[req.fhdr_cnt]' if { req.hdr(transfer-encoding) -m found }",
  ],
  // http-after-response: also runs for HAProxy's own answers (pages, policy refusals, cache hits).
  response: [
    '  http-after-response set-var(txn.bo) res.hdr(content-length)',
    '  http-after-response set-var(txn.ho) res.hdrs,length unless { res.hdr(content-length) -m found }',
  ],
};
