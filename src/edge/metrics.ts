/**
 * Request counters of the built-in edge, per deployment and per service (serialisable snapshots in the
 * same shape any driver reports). Latencies go into a fixed log-scale histogram, so recording a request is
 * a few additions and one Math.log2, and p50/p95/p99 come from the buckets (each bucket is 19% wider than
 * the one below, so a reported percentile is at most 19% above the true value).
 */

/** Upper bound of bucket 0, in ms. */
const LOWEST_MS = 0.1;
/** Buckets per doubling of latency. */
const PER_DOUBLING = 4;
/** 0.1 ms … ~23 min; the last bucket also takes everything above. */
export const LATENCY_BUCKETS = 96;

/** Index of the bucket a latency (ms) falls into: bucket i holds (upper(i-1), upper(i)]. */
export function bucketOf(ms: number): number {
  if (!(ms > LOWEST_MS)) return 0;
  const i = Math.ceil(Math.log2(ms / LOWEST_MS) * PER_DOUBLING);
  return i < LATENCY_BUCKETS ? i : LATENCY_BUCKETS - 1;
}

/** Upper bound (ms) of bucket i. */
export function bucketUpperMs(i: number): number {
  return LOWEST_MS * 2 ** (i / PER_DOUBLING);
}

/** The q-quantile (0..1] of a histogram: the upper bound of its bucket, capped at the largest value seen. */
export function percentileMs(buckets: ArrayLike<number>, count: number, maxMs: number, q: number): number {
  if (count === 0) return 0;
  const rank = Math.max(1, Math.ceil(q * count));
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    seen += buckets[i];
    if (seen >= rank) return round3(Math.min(bucketUpperMs(i), maxMs));
  }
  return round3(maxMs);
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

export interface StatusClasses {
  '1xx': number;
  '2xx': number;
  '3xx': number;
  '4xx': number;
  '5xx': number;
}

/** What every edge driver reports for a deployment, or summed over a service's deployments. */
export interface MetricsSnapshot {
  /** HTTP requests answered (or abandoned by the client: status 499). Upgrades are counted in `tunnels`. */
  requests: number;
  status: StatusClasses;
  /** Request body bytes received from clients. */
  bytesIn: number;
  /** Response body bytes sent to clients. */
  bytesOut: number;
  /** Requests in flight plus open tunnels, now. */
  active: number;
  /** Upgraded (WebSocket) connections opened. */
  tunnels: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
}

export function emptySnapshot(): MetricsSnapshot {
  return {
    requests: 0,
    status: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
    bytesIn: 0,
    bytesOut: 0,
    active: 0,
    tunnels: 0,
    latencyMs: { p50: 0, p95: 0, p99: 0, max: 0 },
  };
}

/** One deployment's counters in the edge process (or a sum of several). */
export class Counters {
  requests = 0;
  s1 = 0;
  s2 = 0;
  s3 = 0;
  s4 = 0;
  s5 = 0;
  bytesIn = 0;
  bytesOut = 0;
  active = 0;
  tunnels = 0;
  maxMs = 0;
  readonly latency = new Float64Array(LATENCY_BUCKETS);

  record(status: number, ms: number, bytesIn: number, bytesOut: number): void {
    this.requests++;
    if (status < 200) this.s1++;
    else if (status < 300) this.s2++;
    else if (status < 400) this.s3++;
    else if (status < 500) this.s4++;
    else this.s5++;
    this.bytesIn += bytesIn;
    this.bytesOut += bytesOut;
    this.latency[bucketOf(ms)]++;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  add(o: Counters): void {
    this.requests += o.requests;
    this.s1 += o.s1;
    this.s2 += o.s2;
    this.s3 += o.s3;
    this.s4 += o.s4;
    this.s5 += o.s5;
    this.bytesIn += o.bytesIn;
    this.bytesOut += o.bytesOut;
    this.active += o.active;
    this.tunnels += o.tunnels;
    if (o.maxMs > this.maxMs) this.maxMs = o.maxMs;
    for (let i = 0; i < LATENCY_BUCKETS; i++) this.latency[i] += o.latency[i];
  }

  snapshot(): MetricsSnapshot {
    const n = this.requests;
    const p = (q: number) => percentileMs(this.latency, n, this.maxMs, q);
    return {
      requests: n,
      status: { '1xx': this.s1, '2xx': this.s2, '3xx': this.s3, '4xx': this.s4, '5xx': this.s5 },
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      active: this.active,
      tunnels: this.tunnels,
      latencyMs: { p50: p(0.5), p95: p(0.95), p99: p(0.99), max: round3(this.maxMs) },
    };
  }
}

/** Names of the service a route belongs to, as the routing table carries them. */
export interface ServiceNames {
  project: string;
  environment: string;
  service: string;
  serviceId?: string;
  environmentId?: string;
}

/** The edge's GET /metrics answer. */
export interface EdgeMetrics {
  /** When the edge process started counting (counters live in its memory). */
  since: string;
  /** Requests for host names no route has (404). */
  unrouted: number;
  /** Access log lines dropped because the disk did not keep up. */
  accessLogDropped: number;
  /**
   * Requests served but not counted: on HAProxy, its log lines dropped while the helper edge was down or
   * behind (HAProxy's DroppedLogs, since its last reload). 0 on the built-in edge, which counts in-process.
   */
  requestsNotCounted: number;
  /** By service key (`serviceLogKey`). */
  services: Record<string, ServiceMetrics>;
}

export interface ServiceMetrics extends ServiceNames {
  /** All deployments since the edge started, including retired ones. */
  totals: MetricsSnapshot;
  /** Deployments still routed or still finishing requests. */
  deployments: Record<string, MetricsSnapshot>;
}

/**
 * Key naming one service in one environment, used for its metrics and access log file name: ids when the
 * routing table has them, else its names (file-name safe either way).
 */
export function serviceLogKey(s: ServiceNames): string {
  if (s.serviceId && s.environmentId) return serviceIdsKey(s.serviceId, s.environmentId);
  return fileSafe(`${s.project}_${s.environment}_${s.service}`);
}

/** serviceLogKey of a service known by its ids (every route Berth's RouteSync writes carries them). */
export function serviceIdsKey(serviceId: string, environmentId: string): string {
  return fileSafe(`${environmentId}_${serviceId}`);
}

function fileSafe(raw: string): string {
  return raw.replace(/[^A-Za-z0-9._-]/g, '-');
}

/** A deployment's counters plus what its access log lines need. */
export class DeploymentCounters extends Counters {
  /** `"service":…,"deploymentId":…` — the constant part of its access log lines. */
  readonly logFields: string;

  constructor(
    readonly key: string,
    readonly names: ServiceNames,
    readonly deploymentId: string,
  ) {
    super();
    this.logFields = `"service":${JSON.stringify(names.service)},"deploymentId":${JSON.stringify(deploymentId)}`;
  }
}

/** All counters of an edge process: live deployments, plus what retired deployments left per service. */
export class MetricsRegistry {
  readonly since = new Date().toISOString();
  unrouted = 0;
  private readonly byDeployment = new Map<string, DeploymentCounters>();
  private readonly retired = new Map<string, { names: ServiceNames; counters: Counters }>();
  /** Deployments of the current routing table. */
  private routed = new Set<string>();

  forDeployment(names: ServiceNames, deploymentId: string): DeploymentCounters {
    let c = this.byDeployment.get(deploymentId);
    if (c === undefined) {
      const own: ServiceNames = {
        project: names.project,
        environment: names.environment,
        service: names.service,
      };
      if (names.serviceId !== undefined) own.serviceId = names.serviceId;
      if (names.environmentId !== undefined) own.environmentId = names.environmentId;
      c = new DeploymentCounters(serviceLogKey(own), own, deploymentId);
      this.byDeployment.set(deploymentId, c);
    }
    return c;
  }

  /** Folds deployments no longer routed and without requests in flight into their service's totals. */
  prune(routed: Set<string>): void {
    this.routed = routed;
    for (const [id, c] of this.byDeployment) {
      if (routed.has(id) || c.active > 0) continue;
      this.byDeployment.delete(id);
      let r = this.retired.get(c.key);
      if (r === undefined) {
        r = { names: c.names, counters: new Counters() };
        this.retired.set(c.key, r);
      }
      r.counters.add(c);
    }
  }

  snapshot(accessLogDropped: number): EdgeMetrics {
    // Deployments that finished their last request since the table changed are totals only now.
    this.prune(this.routed);
    const totals = new Map<string, { names: ServiceNames; counters: Counters }>();
    const deployments = new Map<string, Record<string, MetricsSnapshot>>();
    const total = (key: string, names: ServiceNames) => {
      let t = totals.get(key);
      if (t === undefined) {
        t = { names, counters: new Counters() };
        totals.set(key, t);
        deployments.set(key, {});
      }
      return t;
    };
    for (const [key, r] of this.retired) total(key, r.names).counters.add(r.counters);
    for (const [id, c] of this.byDeployment) {
      total(c.key, c.names).counters.add(c);
      (deployments.get(c.key) as Record<string, MetricsSnapshot>)[id] = c.snapshot();
    }
    const services: Record<string, ServiceMetrics> = {};
    for (const [key, t] of totals) {
      services[key] = {
        ...t.names,
        totals: t.counters.snapshot(),
        deployments: deployments.get(key) ?? {},
      };
    }
    return { since: this.since, unrouted: this.unrouted, accessLogDropped, requestsNotCounted: 0, services };
  }
}
