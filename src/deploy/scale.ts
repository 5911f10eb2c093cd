/**
 * `berth scale`: more or fewer replicas of the active deployment without a redeploy. New replicas reuse its
 * artifact and pass the health gate before they get traffic; removed ones leave the routing table and drain.
 */
import { UserError } from '../core/errors.js';
import type { Deployment } from '../core/model.js';
import type { Store } from '../store/store.js';
import type { StoredWorkload } from '../store/workloads.js';
import { artifactOf } from './artifact.js';
import { policyOf } from './autoscaler.js';
import type { DeploymentLogs } from './deployment-log.js';
import type { Replicas } from './replicas.js';
import type { RouteSync } from './route-sync.js';

export interface ScaleDeps {
  store: Store;
  replicas: Replicas;
  routes: RouteSync;
  logs: DeploymentLogs;
  maxReplicas: number;
}

/** Replicas that count as the deployment's: not stopped on purpose (crashed ones are still wanted). */
function serving(store: Store, d: Deployment): StoredWorkload[] {
  return store.workloads
    .ofDeployment(d.id)
    .filter((w) => w.ownerKind === 'replica' && w.state !== 'exited' && w.state !== 'stopping');
}

/** Why d cannot be scaled to n, in one sentence, or null. */
export function scaleRefusal(
  d: Deployment,
  n: number,
  maxReplicas: number,
  serviceName: string,
): string | null {
  const deploy = d.config?.deploy;
  if (!deploy || artifactOf(d).kind !== 'process')
    return `Service "${serviceName}" is a static site served by the edge; it has no replicas to scale.`;
  if (deploy.cronSchedule)
    return `Service "${serviceName}" is a cron service (deploy.cronSchedule); its runs have no replicas to scale.`;
  if (deploy.singleton && n > 1)
    return `Service "${serviceName}" is a singleton (deploy.singleton); it runs exactly one replica.`;
  if (n > maxReplicas)
    return `${n} replicas is more than this server runs for one deployment (${maxReplicas}); ask for fewer, or start the server with --max-replicas ${n}.`;
  return null;
}

/** Scales d (the active deployment) to n replicas; resolves once they serve (or drained away). */
export async function scaleTo(deps: ScaleDeps, d: Deployment, n: number, serviceName: string): Promise<void> {
  const refusal = scaleRefusal(d, n, deps.maxReplicas, serviceName);
  if (refusal) throw new UserError(refusal);
  const system = (m: string) => deps.logs.log(d.id, 'deploy', 'system', m);
  const now = serving(deps.store, d);
  if (n > now.length) {
    const used = new Set(now.map((w) => w.slot));
    const slots: number[] = [];
    for (let s = 0; slots.length < n - now.length; s++) if (!used.has(s)) slots.push(s);
    system(
      `Scaling from ${now.length} to ${n} replicas: starting ${slots.map((s) => `replica ${s}`).join(', ')}`,
    );
    const started: string[] = [];
    try {
      // All at once: each starts and passes its gate in parallel, so 1 → 4 takes about as long as 1 → 2.
      const results = await Promise.allSettled(
        slots.map(async (s) => {
          const id = (await deps.replicas.launch(d, artifactOf(d), s)).id;
          started.push(id);
          await deps.replicas.gate(d, id, new AbortController().signal);
        }),
      );
      // Every launch has settled, so `started` names each replica that has to go again.
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    } catch (err) {
      await deps.replicas.discard(started);
      system(`Scaling failed: ${(err as Error).message}; ${now.length} replicas keep serving`);
      throw new UserError(`Scaling failed: ${(err as Error).message}; ${now.length} replicas keep serving.`, {
        status: 409,
        code: 'conflict',
      });
    }
    deps.store.deployments.setReplicaCount(d.id, n);
    await deps.routes.sync();
    system(`${n}/${n} replicas healthy`);
  } else if (n < now.length) {
    const leaving = [...now].sort((a, b) => b.slot - a.slot).slice(0, now.length - n);
    system(
      `Scaling from ${now.length} to ${n} replicas: draining ${leaving.map((w) => `replica ${w.slot}`).join(', ')}`,
    );
    deps.store.deployments.setReplicaCount(d.id, n);
    await deps.replicas.retireSome(d, leaving, { overlap: false });
    system(`${n} replica${n === 1 ? '' : 's'} serving`);
  } else {
    deps.store.deployments.setReplicaCount(d.id, n);
  }
}

/** The active deployment of service in env, scaled to n (a service without one is refused). */
export async function scaleActive(
  deps: ScaleDeps,
  service: { id: string; name: string },
  environment: { id: string; name: string },
  n: number,
): Promise<Deployment> {
  const active = deps.store.deployments.findActiveId(service.id, environment.id);
  if (!active) {
    throw new UserError(
      `Service "${service.name}" has no active deployment in ${environment.name}; deploy it before scaling.`,
      { status: 409, code: 'conflict' },
    );
  }
  const d = deps.store.deployments.get(active);
  const policy = d.config ? policyOf(d.config.deploy) : null;
  // Autoscaled: the count asked for is the new floor, and autoscaling goes on above it.
  if (policy && n > policy.max)
    throw new UserError(
      `Service "${service.name}" autoscales between ${policy.min} and ${policy.max} replicas; ask for ${policy.max} or fewer, or raise deploy.maxReplicas and redeploy.`,
    );
  await scaleTo(deps, d, n, service.name);
  if (policy) {
    deps.store.deployments.setMinReplicas(d.id, n);
    const line = `minReplicas is now ${n} (berth scale); autoscaling goes on between ${n} and ${policy.max}`;
    deps.logs.log(d.id, 'deploy', 'system', line);
  }
  return deps.store.deployments.get(active);
}
