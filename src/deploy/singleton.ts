/**
 * Singletons: services that must never run two instances at once (a scheduler, a queue consumer that is not
 * idempotent). A deployment of one stops the serving instance, confirmed gone, before its own starts.
 */
import type { Deployment, ServiceConfig } from '../core/model.js';
import type { Store } from '../store/store.js';
import { artifactOf } from './artifact.js';
import type { DeploymentLogs } from './deployment-log.js';
import type { Replicas } from './replicas.js';
import type { RouteSync } from './route-sync.js';

/**
 * Why a deployment with this config runs as a singleton, or null. `singleton = true` says so; without it, one
 * replica with no overlap and no healthcheckPath whose serving predecessor turned out to be a worker (it never
 * listened) is one too. Web apps without a healthcheckPath are not: stopping them first would cost downtime.
 */
export function singletonReason(config: ServiceConfig, servingIsWorker: boolean): string | null {
  const deploy = config.deploy;
  if (deploy.singleton) return 'deploy.singleton is true';
  if (
    deploy.numReplicas === 1 &&
    deploy.overlapSeconds === 0 &&
    deploy.healthcheckPath === null &&
    servingIsWorker
  )
    return 'one replica, overlapSeconds = 0, no healthcheckPath, and it serves no HTTP (a worker)';
  return null;
}

export interface HandoverDeps {
  store: Store;
  replicas: Replicas;
  routes: RouteSync;
  logs: DeploymentLogs;
}

function note(deps: HandoverDeps, deploymentId: string, message: string): void {
  deps.logs.log(deploymentId, 'deploy', 'system', message);
}

/**
 * Before a singleton's replica starts: stops the serving deployment's replicas and waits until they are gone.
 * Returns the stopped deployment (to revive if the new one fails), or null when nothing ran.
 */
export async function handOver(deps: HandoverDeps, d: Deployment): Promise<Deployment | null> {
  const { store } = deps;
  const servingId = store.deployments.findActiveId(d.serviceId, d.environmentId);
  const serving = servingId && servingId !== d.id ? store.deployments.get(servingId) : null;
  const workloads = serving ? store.workloads.ofDeployment(serving.id) : [];
  const reason = singletonReason(
    d.config as ServiceConfig,
    workloads.some((w) => w.worker),
  );
  if (!reason) return null;
  const live = workloads.filter((w) => w.state !== 'exited' && w.state !== 'crashed');
  if (!serving || live.length === 0) {
    note(deps, d.id, `Singleton (${reason}): nothing else runs, starting the one instance`);
    return null;
  }
  const draining = serving.config?.deploy.drainingSeconds ?? 0;
  note(
    deps,
    d.id,
    `Singleton (${reason}): stopping deployment ${serving.id} first (SIGTERM, up to ${draining}s drainingSeconds, then SIGKILL)`,
  );
  await deps.replicas.stopAll(serving);
  note(deps, d.id, `Deployment ${serving.id} has stopped; starting the new instance`);
  return serving;
}

/** The new singleton failed: the deployment it stopped runs again (same artifact, health-gated, routed). */
export async function revive(deps: HandoverDeps, stopped: Deployment): Promise<void> {
  const d = deps.store.deployments.get(stopped.id);
  if (deps.store.deployments.findActiveId(d.serviceId, d.environmentId) !== d.id) return;
  const n = d.config?.deploy.numReplicas ?? 1;
  const ids: string[] = [];
  for (let r = 0; r < n; r++) ids.push((await deps.replicas.launch(d, artifactOf(d), r)).id);
  try {
    await Promise.all(ids.map((id) => deps.replicas.gate(d, id, new AbortController().signal)));
  } catch (err) {
    await deps.replicas.discard(ids);
    throw err;
  }
  await deps.routes.sync();
}

/**
 * At daemon start, for the deployments a previous daemon left half-way: a singleton handover that stopped the
 * serving instance and died before the new one served leaves nothing running. The new one's leftovers stop
 * (confirmed gone), then the serving deployment starts again.
 */
export async function reviveInterrupted(deps: HandoverDeps, interrupted: Deployment[]): Promise<void> {
  const { store } = deps;
  for (const d of interrupted) {
    const activeId = store.deployments.findActiveId(d.serviceId, d.environmentId);
    if (!activeId || activeId === d.id || !d.config || d.config.deploy.cronSchedule) continue;
    const active = store.deployments.get(activeId);
    const workloads = store.workloads.ofDeployment(active.id).filter((w) => w.ownerKind === 'replica');
    const stoppedForHandover =
      workloads.length > 0 && workloads.every((w) => w.state === 'exited' && w.handle === null);
    if (
      !stoppedForHandover ||
      !singletonReason(
        d.config,
        workloads.some((w) => w.worker),
      )
    )
      continue;
    await deps.replicas.stopAll(d);
    note(
      deps,
      active.id,
      `Berth server stopped during singleton deployment ${d.id}; starting this one again`,
    );
    await revive(deps, active);
  }
}
