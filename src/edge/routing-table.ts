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
  deploymentId: string;
  kind: 'proxy' | 'static';
  /** Healthy replicas of the active deployment (kind = proxy). Empty means 503. */
  targets: RouteTarget[];
  /** Absolute directory served for kind = static. */
  staticRoot: string | null;
}

export interface RoutingTable {
  /** Increases with every change; the edge reports the version it has applied. */
  version: number;
  routes: Route[];
}

export function emptyRoutingTable(): RoutingTable {
  return { version: 0, routes: [] };
}
