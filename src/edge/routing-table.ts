/**
 * The routing table: the one thing the control plane hands to whichever edge driver runs
 * (the built-in Node proxy now, HAProxy later). Pure data, written to disk as JSON.
 */

export interface RouteTarget {
  /** Instance id: stats and draining are keyed by it. */
  id: string;
  host: string;
  port: number;
}

export interface Route {
  /** Lower-case host names (no port) that select this route. */
  hostnames: string[];
  /** Human names for pages and logs. */
  project: string;
  environment: string;
  service: string;
  /** Ids of the service and environment (absent in older tables): key its metrics and access log. */
  serviceId?: string;
  environmentId?: string;
  deploymentId: string;
  kind: 'proxy' | 'static';
  /** Healthy replicas of the active deployment (kind = proxy). Empty means 503. */
  targets: RouteTarget[];
  /** Absolute directory served for kind = static. */
  staticRoot: string | null;
  /**
   * The deployment's `app/` directory (kind = static), which holds staticRoot: only files whose real path is
   * inside it are served. Absent in older tables: staticRoot itself.
   */
  staticAppDir?: string;
  /**
   * A file relative to staticRoot (index.html for single-page apps) answered with 200 for a path that is not a
   * file and has no extension or asks for HTML, so client routes work; a missing asset still 404s.
   */
  staticFallback?: string;
  /** Host names of this route whose plain-HTTP requests go to HTTPS (308) once they have a certificate. */
  redirectToHttps?: string[];
  /** What the edge enforces before a request reaches the service (absent: nothing). */
  policy?: RoutePolicy;
}

/**
 * A service's address on the private network: a loopback IP of its own and a port, where the edge
 * forwards TCP connections (any protocol) to the healthy replicas of the active deployment.
 */
export interface PrivateEndpoint {
  /** The private domain (`api.production.shop.internal`), for logs. */
  name: string;
  /** Loopback address to listen on (127.N.x.y). */
  host: string;
  port: number;
  deploymentId: string;
  /** Empty: connections are accepted and closed at once. */
  targets: RouteTarget[];
}

/** The `[edge]` settings of a service as the edge applies them (see src/edge/policy.ts). */
export interface RoutePolicy {
  /** Requests per client IP per window. */
  rateLimit?: number | null;
  rateLimitWindowSeconds?: number;
  /** Largest request body in bytes. */
  maxBodySize?: number | null;
  /** IPs/CIDRs; when non-empty, only these may reach the service. */
  allowIps?: string[];
  denyIps?: string[];
  /** Path prefixes answered with 403. */
  denyPaths?: string[];
}

export interface RoutingTable {
  /** Increases with every change; the edge reports the version it has applied. */
  version: number;
  routes: Route[];
  /** Absent in tables written before private networking existed. */
  privateEndpoints?: PrivateEndpoint[];
  /**
   * Most connections one client IP may hold open at once on the public listeners; more are closed at accept.
   * 0: no limit. Absent: DEFAULT_CONNECTIONS_PER_IP (conn-limit.ts).
   */
  connectionsPerIp?: number;
}

export function emptyRoutingTable(): RoutingTable {
  return { version: 0, routes: [] };
}
