/**
 * What the edge enforces in front of a service before a request reaches it (the `[edge]` table of
 * railway.toml, or `berth waf`): IP allow/deny lists (CIDR, IPv4 and IPv6, via node:net's BlockList),
 * denied path prefixes, a largest request body, and a per-client-IP rate limit.
 *
 * The rate limit is a fixed window per client IP: cheap (one Map lookup per request), exact under a
 * burst, and the 429 says when the window ends (Retry-After). Counters live in the edge process only;
 * a table swap keeps them when the policy is unchanged, so a deploy does not reset anyone's budget.
 */

import { BlockList, isIPv6 } from 'node:net';
import type { RoutePolicy } from './routing-table.js';

export type PolicyVerdict =
  | { ok: true }
  | { ok: false; status: 403 | 413 | 429; reason: string; retryAfterSeconds?: number };

const OK: PolicyVerdict = { ok: true };

interface Window {
  start: number;
  count: number;
}

function blockList(entries: string[]): BlockList | null {
  if (entries.length === 0) return null;
  const list = new BlockList();
  for (const e of entries) {
    const [addr, bits] = e.split('/');
    const type = isIPv6(addr) ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return list;
}

function matches(list: BlockList, ip: string): boolean {
  const v6 = isIPv6(ip);
  if (list.check(ip, v6 ? 'ipv6' : 'ipv4')) return true;
  // An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d; clientAddress strips that, but be sure.
  return v6 && ip.startsWith('::ffff:') && list.check(ip.slice(7), 'ipv4');
}

/**
 * A path that needs no normalisation: no escape, backslash, parameter, empty segment or segment starting with a
 * dot (each repetition ends at its slash: no backtracking blow-up).
 */
const PLAIN_PATH = /^\/(?:[^%\\.;/#][^%\\;/#]*\/)*(?:[^%\\.;/#][^%\\;/#]*)?$/;
const ESCAPE = /%([0-9a-fA-F]{2})/g;
const ABSOLUTE_FORM = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#\\]*/;

function unescapeByte(_: string, hex: string): string {
  return String.fromCharCode(Number.parseInt(hex, 16));
}

/**
 * The path a request target names, in the one form deny rules are matched in: absolute-form reduced to its
 * path, query and fragment dropped, every %XX decoded once (as the app will: `/%61dmin` is `/admin`, `%2f` a slash),
 * backslashes read as slashes (as WHATWG URL parsers do), `;parameters` dropped (servlet containers ignore
 * them: `/..;/admin` is `/admin` there), empty and dot segments resolved, lower-cased (many
 * routers ignore case). Bytes are latin1 characters, as Node's parser hands them over.
 */
export function normalizedPath(target: string): string {
  let p = target;
  const q = p.indexOf('?');
  if (q !== -1) p = p.slice(0, q);
  const hash = p.indexOf('#'); // never sent by browsers, but URL parsers in apps stop there
  if (hash !== -1) p = p.slice(0, hash);
  if (p.charCodeAt(0) !== 47 /* / */) {
    const m = ABSOLUTE_FORM.exec(p);
    p = m === null ? `/${p}` : p.slice(m[0].length);
    if (p.charCodeAt(0) !== 47) p = `/${p}`;
  }
  if (PLAIN_PATH.test(p)) return p.toLowerCase();
  p = p.replace(ESCAPE, unescapeByte).replaceAll('\\', '/');
  const out: string[] = [];
  const segments = p.split('/');
  for (let seg of segments) {
    // Path parameters (`/admin;x`, `/..;/`) do not name another resource to servlet-style routers.
    const semi = seg.indexOf(';');
    if (semi !== -1) seg = seg.slice(0, semi);
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  const last = segments[segments.length - 1];
  const dir = out.length > 0 && (last === '' || last === '.' || last === '..');
  return `/${out.join('/')}${dir ? '/' : ''}`.toLowerCase();
}

/** A deny rule in the form normalizedPath gives requests (non-ASCII as its UTF-8 bytes). */
export function denyPrefix(rule: string): string {
  return normalizedPath(Buffer.from(rule, 'utf8').toString('latin1'));
}

/** `path` is `prefix` or below it, on a segment boundary: "/admin" covers /admin/x, never /administrator. */
function under(path: string, prefix: string): boolean {
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || prefix.endsWith('/') || path.charCodeAt(prefix.length) === 47;
}

export class CompiledPolicy {
  private readonly allow: BlockList | null;
  private readonly deny: BlockList | null;
  private readonly windows = new Map<string, Window>();
  private readonly windowMs: number;
  /** denyPaths, normalised (normalizedPath). */
  private readonly denyPaths: string[];
  private lastSweep = 0;

  constructor(readonly spec: RoutePolicy) {
    this.allow = blockList(spec.allowIps ?? []);
    this.deny = blockList(spec.denyIps ?? []);
    this.windowMs = (spec.rateLimitWindowSeconds ?? 60) * 1000;
    this.denyPaths = (spec.denyPaths ?? []).map(denyPrefix);
  }

  /** Same settings: a new table can keep this object (and its rate-limit counters). */
  sameAs(spec: RoutePolicy): boolean {
    return JSON.stringify(spec) === JSON.stringify(this.spec);
  }

  /**
   * The verdict for one request. `contentLength` is the declared body size (-1 when unknown/chunked);
   * chunked bodies are checked as they stream (tooLarge).
   */
  check(ip: string, path: string, contentLength: number, now = Date.now()): PolicyVerdict {
    if (this.deny !== null && matches(this.deny, ip)) {
      return { ok: false, status: 403, reason: 'Your address is blocked from this service.' };
    }
    if (this.allow !== null && !matches(this.allow, ip)) {
      return { ok: false, status: 403, reason: 'This service only accepts requests from allowed addresses.' };
    }
    const denied = this.denyPaths;
    if (denied.length > 0) {
      // Matched as the app will read the path, so that no spelling of it (`/%61dmin`, `//admin`, `/x/../admin`,
      // `http://host/admin`) gets past the rule.
      const p = normalizedPath(path);
      if (denied.some((prefix) => under(p, prefix))) {
        return { ok: false, status: 403, reason: 'This path is not served.' };
      }
    }
    const max = this.spec.maxBodySize ?? null;
    if (max !== null && contentLength > max) return this.tooLarge();
    const limit = this.spec.rateLimit ?? null;
    if (limit !== null) {
      if (now - this.lastSweep > this.windowMs) this.sweep(now);
      let w = this.windows.get(ip);
      if (w === undefined || now - w.start >= this.windowMs) {
        w = { start: now, count: 0 };
        this.windows.set(ip, w);
      }
      w.count++;
      if (w.count > limit) {
        const retryAfterSeconds = Math.max(1, Math.ceil((w.start + this.windowMs - now) / 1000));
        return {
          ok: false,
          status: 429,
          reason: `Too many requests: this service allows ${limit} per ${this.windowMs / 1000} s per client.`,
          retryAfterSeconds,
        };
      }
    }
    return OK;
  }

  /** The largest body this service accepts, or null. */
  get maxBodySize(): number | null {
    return this.spec.maxBodySize ?? null;
  }

  tooLarge(): PolicyVerdict {
    return {
      ok: false,
      status: 413,
      reason: `The request body is larger than this service accepts (${this.spec.maxBodySize} bytes).`,
    };
  }

  /** Drops windows that ended, so one-off clients do not accumulate. */
  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [ip, w] of this.windows) if (now - w.start >= this.windowMs) this.windows.delete(ip);
  }
}

/** A policy that enforces nothing compiles to null, keeping the hot path free of it. */
export function compilePolicy(
  spec: RoutePolicy | undefined,
  previous: CompiledPolicy | null,
): CompiledPolicy | null {
  if (spec === undefined) return null;
  const empty =
    (spec.rateLimit ?? null) === null &&
    (spec.maxBodySize ?? null) === null &&
    (spec.allowIps ?? []).length === 0 &&
    (spec.denyIps ?? []).length === 0 &&
    (spec.denyPaths ?? []).length === 0;
  if (empty) return null;
  return previous?.sameAs(spec) ? previous : new CompiledPolicy(spec);
}
