/**
 * The built-in edge's load balancing and in-flight accounting: round-robin over a route's targets, one upstream
 * keep-alive pool per host:port, requests and tunnels in flight per target (what draining waits on).
 */

import type { RouteTarget } from './routing-table.js';
import { type UpstreamOptions, UpstreamPool } from './upstream.js';

export interface TargetStats {
  /** Requests in flight plus open tunnelled (WebSocket/Upgrade) connections. */
  active: number;
  /** Requests and tunnels ever sent to this target (connect retries included). */
  total: number;
}

export interface EdgeStats {
  version: number;
  targets: Record<string, TargetStats>;
}

/** A replica as the edge reaches it: its pool is shared by every target at the same host:port. */
export interface Target {
  id: string;
  /** host:port, the pool's key. */
  key: string;
  host: string;
  port: number;
  stats: TargetStats;
  pool: UpstreamPool;
}

/** A route's targets and its round-robin position. */
export interface TargetSet {
  targets: Target[];
  rr: number;
}

/** The next target of a non-empty set, round-robin. */
export function nextTarget(set: TargetSet): Target {
  const ts = set.targets;
  const t = ts[set.rr++ % ts.length];
  if (set.rr > 0x3fffffff) set.rr = 0;
  return t;
}

/** The next target whose host:port differs from avoidKey (null: take any), or null when there is none. */
export function pickTarget(set: TargetSet, avoidKey: string | null): Target | null {
  const ts = set.targets;
  const n = ts.length;
  for (let i = 0; i < n; i++) {
    const t = ts[set.rr++ % n];
    if (t.key !== avoidKey) return t;
  }
  return null;
}

/** An open tunnel, as far as shutdown is concerned. */
export interface OpenTunnel {
  destroy(): void;
}

export class Balancer {
  /** Requests in flight through the proxy (all targets). */
  inflight = 0;
  readonly tunnels = new Set<OpenTunnel>();
  private readonly pools = new Map<string, UpstreamPool>();
  /** Pools of targets that left the table, until their last connection closed. */
  private readonly closingPools = new Set<UpstreamPool>();
  private readonly statsById = new Map<string, TargetStats>();
  private idleWaiters: Array<() => void> = [];
  private sweeper: NodeJS.Timeout | null = null;

  constructor(private readonly upstreamOptions: UpstreamOptions) {}

  /** The Target of a routing table's target: its pool and counters are reused while the id and address stay. */
  target(t: RouteTarget): Target {
    const key = `${t.host}:${t.port}`;
    let pool = this.pools.get(key);
    if (pool === undefined) {
      pool = new UpstreamPool(t.host, t.port, this.upstreamOptions);
      this.pools.set(key, pool);
    }
    let stats = this.statsById.get(t.id);
    if (stats === undefined) {
      stats = { active: 0, total: 0 };
      this.statsById.set(t.id, stats);
    }
    return { id: t.id, key, host: t.host, port: t.port, stats, pool };
  }

  /**
   * After a table swap: pools of addresses no longer used close once idle, counters of ids no longer used go
   * once they have nothing active (until then /stats lists them, so draining can wait on them).
   */
  retain(keys: Set<string>, ids: Set<string>): void {
    for (const [key, pool] of this.pools) {
      if (keys.has(key)) continue;
      this.pools.delete(key);
      this.closingPools.add(pool);
      void pool.close().then(() => this.closingPools.delete(pool));
    }
    for (const [id, s] of this.statsById) {
      if (!ids.has(id) && s.active === 0) this.statsById.delete(id);
    }
    // Timeouts and idle expiry of upstream connections: one timer for all pools, only while there are any.
    if (this.pools.size > 0 && this.sweeper === null) {
      this.sweeper = setInterval(() => this.sweep(), 1000).unref();
    }
  }

  /** A request attempt starts on t. */
  begin(t: Target): void {
    t.stats.active++;
    t.stats.total++;
    this.inflight++;
  }

  /** A request attempt on t is over. */
  end(t: Target): void {
    t.stats.active--;
    this.inflight--;
    this.checkIdle();
  }

  tunnelOpened(t: OpenTunnel): void {
    this.tunnels.add(t);
  }

  tunnelClosed(t: OpenTunnel): void {
    this.tunnels.delete(t);
    this.checkIdle();
  }

  /** Open requests + tunnels. */
  get active(): number {
    return this.inflight + this.tunnels.size;
  }

  /** Resolves when no request or tunnel is in flight. */
  whenIdle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private checkIdle(): void {
    if (this.idleWaiters.length > 0 && this.active === 0) {
      const ws = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of ws) w();
    }
  }

  /** Expires idle upstream connections and times out silent ones (about once a second). */
  sweep(): void {
    const now = Date.now();
    for (const p of this.pools.values()) p.sweep(now);
    for (const p of this.closingPools) p.sweep(now);
    if (this.pools.size === 0 && this.closingPools.size === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }

  /** Open upstream connections (all pools). */
  get upstreamConnections(): number {
    let n = 0;
    for (const p of this.pools.values()) n += p.size;
    for (const p of this.closingPools) n += p.size;
    return n;
  }

  /** Per target id: in flight and total (a copy). */
  stats(): Record<string, TargetStats> {
    const targets: Record<string, TargetStats> = {};
    for (const [id, s] of this.statsById) targets[id] = { active: s.active, total: s.total };
    return targets;
  }

  /** Destroys open tunnels and closes upstream pools (after in-flight requests). */
  async close(): Promise<void> {
    for (const t of this.tunnels) t.destroy();
    const pools = [...this.pools.values(), ...this.closingPools];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close()));
    this.closingPools.clear();
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
  }
}
