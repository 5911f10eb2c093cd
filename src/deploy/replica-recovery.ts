/**
 * At daemon start: what a previous daemon left of replicas. Live ones are followed again, dead ones of active
 * deployments go to their restart policy, leftovers of inactive deployments stop, an interrupted singleton
 * handover starts its serving deployment again.
 */
import type { Deployment } from '../core/model.js';
import { DEPLOYMENT_KINDS } from '../store/workloads.js';
import { type HandoverDeps, reviveInterrupted } from './singleton.js';

/** Resolves once adoption is done, with the stops and restarts that go on in the background. */
export async function readoptReplicas(
  deps: HandoverDeps,
  interrupted: Deployment[],
): Promise<{ background: Promise<void> }> {
  const { store, replicas } = deps;
  const dead = await replicas.adopt();
  for (const inst of dead) {
    const d = store.deployments.get(inst.ownerId);
    const active = store.deployments.findActiveId(d.serviceId, d.environmentId) === d.id;
    if (active && inst.state !== 'stopping') replicas.handleFoundDead(inst);
    else store.workloads.update(inst.id, { state: 'exited', handle: null });
  }
  // Replicas of deployments that are no longer active (a retire cut short, a failed deploy) are stopped.
  const activeIds = new Set(store.deployments.listActive().map((d) => d.id));
  const orphans = new Set(
    store.workloads
      .live(DEPLOYMENT_KINDS)
      .filter((i) => !activeIds.has(i.ownerId))
      .map((i) => i.ownerId),
  );
  for (const id of orphans) void replicas.retire(store.deployments.get(id));
  return { background: reviveInterrupted(deps, interrupted) };
}
