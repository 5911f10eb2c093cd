import fs from 'node:fs';
import { TERMINAL_STATUSES } from '../core/model.js';
import type { Store } from '../store/store.js';

/**
 * Keeps a service's disk use bounded: the newest `keep` deployments (and the active one, and any
 * still running) keep their build artifact and source snapshot; older ones lose both. A file shared
 * with a kept deployment (a rollback reuses its target's artifact, a redeploy its source) stays.
 * Rows and logs stay, so history remains readable; rolling back to a pruned build says so.
 */
export function pruneDeployments(
  store: Store,
  serviceId: string,
  environmentId: string,
  keep: number,
): { removed: string[] } {
  const all = store.listDeployments(serviceId, environmentId, 100_000);
  const active = store.activeDeploymentId(serviceId, environmentId);
  const kept = all.filter((d, i) => i < keep || d.id === active || !TERMINAL_STATUSES.has(d.status));
  const keptIds = new Set(kept.map((d) => d.id));
  const inUse = new Set(kept.flatMap((d) => [d.artifactPath, d.sourcePath]).filter(Boolean));
  const dropped = all.filter((d) => !keptIds.has(d.id));
  const candidates = dropped.flatMap((d) => [d.artifactPath, d.sourcePath]).filter((p): p is string => !!p);
  const usedElsewhere = store.pathsStillUsed(candidates, new Set(dropped.map((d) => d.id)));
  const removed: string[] = [];
  for (const d of dropped) {
    for (const p of [d.artifactPath, d.sourcePath]) {
      if (!p || inUse.has(p) || usedElsewhere.has(p) || !fs.existsSync(p)) continue;
      fs.rmSync(p, { recursive: true, force: true });
      removed.push(p);
    }
  }
  return { removed };
}
