/**
 * The `[edge]` policy and the response cache as HAProxy rules for one backend (pure: lines of haproxy.cfg
 * plus the pages and pattern files they name). Same checks, order and page texts as the built-in edge
 * (src/edge/policy.ts, src/edge/cache.ts); the differences HAProxy imposes are listed in src/edge/README.md.
 */

import { simplePage } from '../pages.js';
import { denyPrefix } from '../policy.js';
import type { RoutePolicy } from '../routing-table.js';

/** Map of backend name → active deployment id: part of every cache key, so a deploy purges the service. */
export const DEPLOYMENTS_MAP_FILE = 'deployments.map';
export const CACHE_NAME = 'berth';
const POLICY_DIR = 'policy';
const PAGES = 'pages';
const HTML = 'content-type "text/html; charset=utf-8" hdr cache-control no-store';

/**
 * A path an app may read as another one (see normalizedPath): a percent-encoded unreserved character, slash or
 * backslash, an empty segment, a dot segment, a `;parameter`, a backslash or a `#`. Matched case-insensitively.
 */
export const NOT_PLAIN_PATH =
  '%(2[def]|3[0-9]|[46][1-9a-f]|[57][0-9a]|5[cf]|7e)|//|(^|/)\\.\\.?($|/)|[;#\\\\]';
export const NOT_PLAIN_PATH_TEXT =
  'This service refuses request paths that are not in plain form (percent-encoded letters, digits, dots or ' +
  'slashes, "//", "." or ".." segments, ";" or backslashes): request the plain path instead.';

/** A deny rule as HAProxy sees request paths: normalised, bytes outside ASCII percent-encoded. */
function haproxyDenyPrefix(rule: string): string {
  return denyPrefix(rule).replace(
    /[^\x21-\x7e]/g,
    (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

/** The policy as enforced, or null when it enforces nothing (same rule as compilePolicy). */
export function effectivePolicy(spec: RoutePolicy | undefined): RoutePolicy | null {
  if (spec === undefined) return null;
  const p: RoutePolicy = {
    rateLimit: spec.rateLimit ?? null,
    rateLimitWindowSeconds: spec.rateLimitWindowSeconds ?? 60,
    maxBodySize: spec.maxBodySize ?? null,
    allowIps: spec.allowIps ?? [],
    denyIps: spec.denyIps ?? [],
    // A prefix with whitespace or control characters can never match a request line's path, and would
    // break the one-pattern-per-line file.
    denyPaths: (spec.denyPaths ?? []).filter((x) => [...x].every((c) => c > ' ' && c !== '\x7f')),
  };
  const empty =
    p.rateLimit === null &&
    p.maxBodySize === null &&
    p.allowIps?.length === 0 &&
    p.denyIps?.length === 0 &&
    p.denyPaths?.length === 0;
  return empty ? null : p;
}

export interface Rules {
  lines: string[];
  /** File contents keyed by path relative to the HAProxy state dir. */
  files: Record<string, string>;
}

/**
 * Checks in the built-in edge's order: denied IP, allow list, denied path, body size, rate limit. Requests
 * refused earlier do not count against the rate limit; every other request does (cache hits too).
 */
export function policyRules(backend: string, policy: RoutePolicy, abs: (rel: string) => string): Rules {
  const lines: string[] = [];
  const files: Record<string, string> = {};
  const page = (key: string, status: number, title: string, text: string) => {
    const rel = `${PAGES}/${backend}.${key}.html`;
    files[rel] = simplePage(status, title, text);
    return abs(rel);
  };
  const list = (key: string, entries: string[]) => {
    const rel = `${POLICY_DIR}/${backend}.${key}`;
    files[rel] = entries.map((e) => `${e}\n`).join('');
    return abs(rel);
  };
  const forbid = (key: string, text: string, cond: string) =>
    lines.push(
      `  http-request return status 403 ${HTML} file ${page(key, 403, 'Forbidden', text)} if ${cond}`,
    );

  const deny = policy.denyIps ?? [];
  const allow = policy.allowIps ?? [];
  const paths = policy.denyPaths ?? [];
  if (deny.length > 0) {
    forbid('deny-ip', 'Your address is blocked from this service.', `{ src -f ${list('deny-ips', deny)} }`);
  }
  if (allow.length > 0) {
    const text = 'This service only accepts requests from allowed addresses.';
    forbid('allow-ip', text, `!{ src -f ${list('allow-ips', allow)} }`);
  }
  if (paths.length > 0) {
    // HAProxy 2.6 normalises paths only with experimental directives, so a path not in plain form is refused
    // (every spelling that could reach a denied path: `/%61dmin`, `//admin`, `/x/../admin`, `/admin;x`); the
    // rest is matched as the built-in edge matches its normalised paths: case-insensitively, on segment
    // boundaries ("/admin" refuses /admin and /admin/..., never /administrator). HAProxy's `path` is the path
    // of an absolute-form target too.
    const unusual = page('400-path', 400, 'Bad request', NOT_PLAIN_PATH_TEXT);
    lines.push(
      `  http-request return status 400 ${HTML} file ${unusual} if { path -i -m reg -f ${list('plain-path', [NOT_PLAIN_PATH])} }`,
    );
    const rules = paths.map(haproxyDenyPrefix);
    const exact = list('deny-paths', rules);
    const under = list(
      'deny-path-prefixes',
      rules.map((x) => (x.endsWith('/') ? x : `${x}/`)),
    );
    forbid('deny-path', 'This path is not served.', `{ path -i -f ${exact} } || { path_beg -i -f ${under} }`);
  }
  const max = policy.maxBodySize ?? null;
  if (max !== null) {
    const tooLarge = page(
      '413',
      413,
      'Request too large',
      `The request body is larger than this service accepts (${max} bytes).`,
    );
    const ret = `http-request return status 413 ${HTML} file ${tooLarge}`;
    lines.push(
      `  ${ret} if { req.hdr_val(content-length) gt ${max} }`,
      // A body without a declared size is read up to one byte past the limit (at most one buffer, ~16 kB).
      `  http-request wait-for-body time 10s at-least ${max + 1} if { req.hdr(transfer-encoding) -m found }`,
      `  ${ret} if { req.hdr(transfer-encoding) -m found } { req.body_size gt ${max} }`,
    );
  }
  const limit = policy.rateLimit ?? null;
  if (limit !== null) {
    const window = policy.rateLimitWindowSeconds ?? 60;
    const text = `Too many requests: this service allows ${limit} per ${window} s per client.`;
    lines.push(
      `  stick-table type ipv6 size 100k expire ${window}s store http_req_rate(${window}s)`,
      '  http-request track-sc0 src',
      // HAProxy's rate is over a sliding period, so the wait is the whole window (an upper bound).
      `  http-request return status 429 ${HTML} hdr retry-after ${window} file ${page('429', 429, 'Too many requests', text)} if { sc_http_req_rate(0) gt ${limit} }`,
    );
  }
  return { lines, files };
}

/** The shared cache: 64 MB, 1 MB per object, expiry from the response (s-maxage, then max-age). */
export function cacheSection(): string[] {
  return [
    `cache ${CACHE_NAME}`,
    '  total-max-size 64',
    '  max-object-size 1048576',
    '  max-age 31536000',
    // Vary: Accept-Encoding is kept (one entry per encoding); any other Vary is refused by the store rule.
    '  process-vary on',
  ];
}

/**
 * Lookup and store rules for a proxy backend. HAProxy keys its cache by Host + URI; the Host is suffixed
 * with the backend's deployment id for the lookup (and put back before forwarding), so a deploy, which
 * changes the id through the runtime API, makes every earlier entry unreachable.
 * HAProxy itself never serves or stores for requests with Authorization, non-GET requests or non-200
 * answers, and a request with `Cache-Control: no-cache` skips the lookup but refreshes the entry.
 */
export function cacheRules(backend: string, deploymentsMap: string): string[] {
  return [
    '  http-request set-var(txn.berth_host) req.hdr(host)',
    `  http-request set-header host "%[req.hdr(host)]#%[str(${backend}),map(${deploymentsMap})]"`,
    // A stored entry is a whole 200: a range of it goes to the upstream, which answers the 206.
    `  http-request cache-use ${CACHE_NAME} unless { req.hdr(range) -m found }`,
    '  http-request set-header host %[var(txn.berth_host)]',
    // The built-in edge's rule: s-maxage, or public with max-age; not private/no-store/no-cache; no
    // Set-Cookie; no Vary beyond Accept-Encoding (HAProxy alone would also store without `public`).
    '  acl berth_smaxage res.hdr(cache-control) -i -m beg s-maxage=',
    '  acl berth_public res.hdr(cache-control) -i public',
    '  acl berth_maxage res.hdr(cache-control) -i -m beg max-age=',
    '  acl berth_nostore res.hdr(cache-control) -i -m reg ^(private|no-store|no-cache)($|=)',
    '  acl berth_cookie res.hdr(set-cookie) -m found',
    '  acl berth_vary res.hdr(vary) -i -m reg ^(?!accept-encoding$)',
    `  http-response cache-store ${CACHE_NAME} if berth_smaxage !berth_nostore !berth_cookie !berth_vary || berth_public berth_maxage !berth_nostore !berth_cookie !berth_vary`,
    '  http-after-response set-header x-cache HIT if { res.cache_hit }',
    // HAProxy 2.6 answers a conditional hit with 304 and the stored Content-Length but no body, which strict
    // clients (undici) read as a truncated body; the built-in edge sends none.
    '  http-after-response del-header content-length if { res.cache_hit } { status 304 }',
  ];
}
