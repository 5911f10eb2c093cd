/**
 * The built-in edge's routing: a RoutingTable compiled into host → route entries (targets, redirect hosts,
 * compiled policy, counters, log file), swapped in as one object; lookups by normalised Host.
 */

import type { AccessLogFile } from './access-log.js';
import type { Target, TargetSet } from './balancer.js';
import type { DeploymentCounters } from './metrics.js';
import { type CompiledPolicy, compilePolicy } from './policy.js';
import type { Route, RouteTarget, RoutingTable } from './routing-table.js';

/** Host header → routing key: drop the port, a trailing dot, lower-case. `[::1]:80` → `[::1]`. */
export function normalizeHost(h: string): string {
  let end = h.length;
  if (h.charCodeAt(0) === 91 /* [ */) {
    const close = h.indexOf(']');
    if (close !== -1) end = close + 1;
  } else {
    const colon = h.indexOf(':');
    if (colon !== -1) end = colon;
  }
  if (end > 0 && h.charCodeAt(end - 1) === 46 /* . */) end--;
  return (end === h.length ? h : h.slice(0, end)).toLowerCase();
}

export interface RouteEntry extends TargetSet {
  route: Route;
  /** Normalised host names whose plain-HTTP requests are redirected to HTTPS; null: none. */
  redirect: Set<string> | null;
  /** The route's `[edge]` policy; null when it enforces nothing. */
  policy: CompiledPolicy | null;
  /** The route's deployment's counters (they outlive the table while its requests finish). */
  counters: DeploymentCounters;
  /** Its service's access log file; null without an access log. */
  log: AccessLogFile | null;
}

export interface CompiledTable {
  version: number;
  byHost: Map<string, RouteEntry>;
}

export const EMPTY_TABLE: CompiledTable = { version: 0, byHost: new Map() };

/** Where a compiled route's targets, counters and log file come from (they outlive one table). */
export interface RouteResources {
  target(t: RouteTarget): Target;
  counters(route: Route): DeploymentCounters;
  log(key: string): AccessLogFile | null;
}

/** A compiled table and what it still uses, so the swap can let go of the rest. */
export interface CompiledSwap {
  table: CompiledTable;
  /** host:port of every target. */
  targetKeys: Set<string>;
  targetIds: Set<string>;
  deployments: Set<string>;
  /** Access log keys (counters.key) of every route. */
  logKeys: Set<string>;
}

/**
 * Compiles a routing table. A host listed by two routes goes to the first; a route's policy keeps its rate-limit
 * state from the previous table's route of its first host name.
 */
export function compileTable(
  table: RoutingTable,
  previous: CompiledTable,
  res: RouteResources,
): CompiledSwap {
  const byHost = new Map<string, RouteEntry>();
  const targetKeys = new Set<string>();
  const targetIds = new Set<string>();
  const deployments = new Set<string>();
  const logKeys = new Set<string>();
  for (const route of table.routes) {
    const targets = route.kind === 'proxy' ? route.targets.map((t) => res.target(t)) : [];
    for (const t of targets) {
      targetKeys.add(t.key);
      targetIds.add(t.id);
    }
    const redirect = route.redirectToHttps?.length ? new Set(route.redirectToHttps.map(normalizeHost)) : null;
    const counters = res.counters(route);
    deployments.add(route.deploymentId);
    logKeys.add(counters.key);
    const log = res.log(counters.key);
    const before = previous.byHost.get(normalizeHost(route.hostnames[0] ?? ''))?.policy ?? null;
    const policy = compilePolicy(route.policy, before);
    const entry: RouteEntry = { route, targets, rr: 0, redirect, counters, log, policy };
    for (const h of route.hostnames) {
      const key = normalizeHost(h);
      if (!byHost.has(key)) byHost.set(key, entry);
    }
  }
  return { table: { version: table.version, byHost }, targetKeys, targetIds, deployments, logKeys };
}
