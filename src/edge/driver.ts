/**
 * What the daemon needs from an edge, whichever data plane runs it (the built-in Node proxy or HAProxy).
 * Every driver runs its data plane as processes that outlive the daemon and are adopted by the next one.
 */

import { UserError } from '../core/errors.js';
import type { AccessLogEntry } from './access-log.js';
import type { HttpLogQuery } from './access-log-search.js';
import type { EdgeStats } from './balancer.js';
import type { EdgeMetrics, ServiceNames } from './metrics.js';
import type { RoutingTable } from './routing-table.js';

export type EdgeKind = 'builtin' | 'haproxy';

/** Where an edge driver reports what happened to its processes (a crash, a restart) besides its own log file. */
export type EdgeLog = (level: 'info' | 'warn', message: string) => void;

export interface EdgeDriver {
  readonly kind: EdgeKind;
  /** Adopts the running data plane or starts it (detached); returns the pid of its main process. */
  ensureRunning(): Promise<number>;
  /** Makes the data plane serve this table; resolves once it does. Calls must not overlap (RouteSync serialises). */
  apply(table: RoutingTable): Promise<void>;
  /** In-flight requests/tunnels per target id, including targets that left the table but still drain. */
  stats(): Promise<EdgeStats>;
  /** Request counters per service and deployment, since the data plane started. */
  metrics(): Promise<EdgeMetrics>;
  /** A service's access log entries matching the query, newest first. */
  httpLogs(service: ServiceNames, query: HttpLogQuery): Promise<AccessLogEntry[]>;
  /** Deletes what the data plane keeps about a service that no longer exists (its access log). */
  removeHttpLogs(service: ServiceNames): Promise<void>;
  /** True once none of targetIds has anything in flight; false after timeoutMs. Unknown ids count as idle. */
  waitIdle(targetIds: string[], timeoutMs: number): Promise<boolean>;
  /** Graceful stop: in-flight requests finish, then the processes exit (forced after timeoutMs). */
  stop(timeoutMs?: number): Promise<void>;
  /** Pid of the data plane's main process, once running or adopted. */
  pid(): number | null;
}

export interface EdgePorts {
  http: number;
  /** null: no HTTPS. */
  https: number | null;
}

/**
 * Both drivers refuse to adopt a running data plane on other ports: a restart with other (often forgotten)
 * flags must not move live traffic. `what` names the running process, e.g. "HAProxy (pid 12)".
 */
export function otherPortsError(what: string, dir: string, running: EdgePorts, wanted: EdgePorts): UserError {
  const show = (p: EdgePorts) => `${p.http}/${p.https ?? 'no HTTPS'}`;
  return new UserError(
    `${what} already runs for ${dir} on ports ${show(running)}, not ${show(wanted)}; stop it first (berth server --stop-edge) to change them.`,
  );
}

/** Polls stats() until no target in targetIds is active. A stats error counts as idle only when `gone()` says the data plane is not running. */
export async function pollIdle(
  stats: () => Promise<EdgeStats>,
  targetIds: string[],
  timeoutMs: number,
  gone: () => boolean,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { targets } = await stats();
      if (targetIds.every((id) => (targets[id]?.active ?? 0) === 0)) return true;
    } catch {
      // No data plane, no traffic: nothing can be in flight through it.
      if (gone()) return true;
    }
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, deadline - Date.now()))));
  }
}
