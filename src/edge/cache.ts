/**
 * The edge cache: responses the app marks as shareable are kept in memory and served again without
 * touching the app, the way a CDN in front of it would (the seeds serve published pages "with zero load on
 * the app").
 *
 * Stored: GET responses with status 200, `Cache-Control: public` with `max-age`/`s-maxage` (or `s-maxage`
 * alone) > 0, no `private`/`no-store`/`no-cache`, no `Set-Cookie`, no `Vary` beyond `Accept-Encoding`, to
 * requests without `Authorization`, up to 1 MB each and 64 MB in all (least recently used goes first).
 * Served: fresh entries, with `Age` and `X-Cache: HIT`, and a 304 when `If-None-Match` matches the ETag.
 * An `Age` the upstream sent (a cache in front of the app) counts: it is taken off the freshness lifetime (a
 * response already as old as its max-age is not stored) and added to the Age of every hit, which carries
 * one Age field, not the upstream's and ours.
 * A request with `Cache-Control: no-cache` skips the lookup (the response still refreshes the entry).
 *
 * Entries are keyed by deployment, so a deploy purges the service's cache: the new table's routes name new
 * deployments, and entries of deployments no longer routed are dropped at the swap.
 */

export interface CachedResponse {
  status: number;
  reason: string;
  /** Flat [name, value, ...] as the upstream sent them (hop-by-hop fields already removed). */
  headers: string[];
  body: Buffer;
  etag: string | null;
  storedAt: number;
  /** Seconds old the response already was when stored (the upstream's Age). */
  initialAge: number;
  expiresAt: number;
  deploymentId: string;
}

export const MAX_ENTRY_BYTES = 1024 * 1024;
const MAX_TOTAL_BYTES = 64 * 1024 * 1024;

/** Seconds a shared cache may keep this response, or null when it must not store it. */
export function sharedFreshness(status: number, headers: string[]): number | null {
  if (status !== 200) return null;
  let cc: string | null = null;
  for (let i = 0; i < headers.length; i += 2) {
    // Runs on every cacheable response once anything is cached: lower-case only names of a length that matters.
    const n = headers[i].length;
    if (n !== 10 && n !== 4 && n !== 13) continue;
    const k = headers[i].toLowerCase();
    if (k === 'set-cookie') return null;
    if (k === 'vary') {
      const rest = headers[i + 1]
        .split(',')
        .map((t) => t.trim().toLowerCase())
        .filter((t) => t !== '' && t !== 'accept-encoding');
      if (rest.length > 0) return null;
    } else if (k === 'cache-control') {
      cc = cc === null ? headers[i + 1] : `${cc}, ${headers[i + 1]}`;
    }
  }
  if (cc === null) return null;
  let isPublic = false;
  let maxAge: number | null = null;
  let sMaxAge: number | null = null;
  for (const part of cc.toLowerCase().split(',')) {
    const [name, value] = part.trim().split('=', 2);
    if (name === 'private' || name === 'no-store' || name === 'no-cache') return null;
    if (name === 'public') isPublic = true;
    const n = value === undefined ? Number.NaN : Number(value.replace(/"/g, ''));
    if (name === 'max-age' && Number.isFinite(n)) maxAge = n;
    if (name === 's-maxage' && Number.isFinite(n)) sMaxAge = n;
  }
  const ttl = sMaxAge ?? (isPublic ? maxAge : null);
  return ttl !== null && ttl > 0 ? ttl : null;
}

/** The upstream's Age in seconds: the first member of its value when that is a non-negative integer, else 0. */
export function upstreamAge(headers: string[]): number {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i].length !== 3 || headers[i].toLowerCase() !== 'age') continue;
    const first = headers[i + 1].split(',', 1)[0].trim();
    return /^\d{1,10}$/.test(first) ? Number(first) : 0;
  }
  return 0;
}

/** Seconds since the response left its origin, as far as the edge knows: what a hit says in `Age`. */
export function currentAge(e: CachedResponse, now: number): number {
  return e.initialAge + Math.floor((now - e.storedAt) / 1000);
}

export function etagOf(headers: string[]): string | null {
  for (let i = 0; i < headers.length; i += 2) if (headers[i].toLowerCase() === 'etag') return headers[i + 1];
  return null;
}

/** An entry as kept: its hit headers are built once, so a hit only fills in the Age value. */
export interface StoredResponse extends CachedResponse {
  /** `headers` + Age (value at AGE_SLOT from the end) + X-Cache: HIT, for writeHead. */
  hitHeaders: string[];
  /** When it was last served or stored (ms): the least recently used go first when the cache is full. */
  lastUsed: number;
}

function withoutAge(headers: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i].toLowerCase() !== 'age') out.push(headers[i], headers[i + 1]);
  }
  return out;
}

/** Index of the Age value in hitHeaders, counted from the end. */
const AGE_SLOT = 3;

/** The headers of a hit with its Age filled in (the array is the entry's: use it before the next hit). */
export function hitHeaders(e: StoredResponse, now: number): string[] {
  const h = e.hitHeaders;
  h[h.length - AGE_SLOT] = String(currentAge(e, now));
  return h;
}

export class ResponseCache {
  private readonly entries = new Map<string, StoredResponse>();
  private bytes = 0;
  hits = 0;
  stores = 0;

  static key(deploymentId: string, hostKey: string, url: string): string {
    return `${deploymentId}\n${hostKey}\n${url}`;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * A fresh entry, else null; expired entries are dropped. A hit only stamps lastUsed (re-inserting it to
   * keep the Map in LRU order cost two more hash operations per hit).
   */
  get(key: string, now: number): StoredResponse | null {
    const e = this.entries.get(key);
    if (e === undefined) return null;
    if (now >= e.expiresAt) {
      this.delete(key, e);
      return null;
    }
    e.lastUsed = now;
    this.hits++;
    return e;
  }

  set(key: string, entry: CachedResponse): void {
    const old = this.entries.get(key);
    if (old !== undefined) this.delete(key, old);
    if (entry.body.length > MAX_ENTRY_BYTES) return;
    const stored: StoredResponse = {
      ...entry,
      hitHeaders: [...withoutAge(entry.headers), 'age', '0', 'x-cache', 'HIT'],
      lastUsed: entry.storedAt,
    };
    this.entries.set(key, stored);
    this.bytes += entry.body.length;
    this.stores++;
    if (this.bytes > MAX_TOTAL_BYTES) this.evict();
  }

  /** Drops entries of deployments no longer routed (a deploy or removal purges that service's cache). */
  keepOnly(deploymentIds: Set<string>): void {
    for (const [k, e] of this.entries) if (!deploymentIds.has(e.deploymentId)) this.delete(k, e);
  }

  /** Least recently used first, down to 7/8 of the limit, so a full cache does not sort on every store. */
  private evict(): void {
    const byAge = [...this.entries].sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [k, e] of byAge) {
      if (this.bytes <= MAX_TOTAL_BYTES - MAX_TOTAL_BYTES / 8) break;
      this.delete(k, e);
    }
  }

  private delete(key: string, e: CachedResponse): void {
    this.entries.delete(key);
    this.bytes -= e.body.length;
  }
}

/** What a cache hit answers: 304 when the client has this version (inm: its If-None-Match), else the entry. */
export interface CachedAnswer {
  status: number;
  reason: string;
  headers: string[];
  /** null: no body (304, HEAD). */
  body: Buffer | null;
}

export function cachedAnswer(e: StoredResponse, method: string, inm: string | null): CachedAnswer {
  const now = Date.now();
  if (e.etag !== null && inm !== null && etagListed(inm, e.etag)) {
    const age = String(currentAge(e, now));
    return { status: 304, reason: '', headers: ['etag', e.etag, 'age', age, 'x-cache', 'HIT'], body: null };
  }
  const body = method === 'HEAD' ? null : e.body;
  return { status: e.status, reason: e.reason, headers: hitHeaders(e, now), body };
}

function etagListed(inm: string, etag: string): boolean {
  for (const t of inm.split(',')) if (t.trim() === etag) return true;
  return false;
}
