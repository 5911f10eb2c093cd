/**
 * The rows of deployments that reuse an earlier one: a redeploy (same source, current variables), a rollback
 * or a restart (same artifact, config and variables). Which earlier deployment, and why not when none fits.
 */

import fs from 'node:fs';
import { UserError } from '../core/errors.js';
import type { Deployment, Environment, Service } from '../core/model.js';
import type { Store } from '../store/store.js';

/** A redeploy of `from`, or of the latest deployment that has a source. */
export function createRedeploy(
  store: Store,
  service: Service,
  env: Environment,
  from?: Deployment,
): Deployment {
  const latest = from ?? store.deployments.list(service.id, env.id, 50).find((d) => d.sourcePath);
  if (!latest)
    throw new UserError(
      `Service "${service.name}" has nothing to redeploy yet; deploy it with \`berth up\`.`,
    );
  const d = store.deployments.create({
    serviceId: service.id,
    environmentId: env.id,
    kind: 'redeploy',
    message: latest.message,
    sourcePath: latest.sourcePath,
    sourceDeploymentId: latest.id,
  });
  // Same place in the same snapshot; a redeploy always deploys, whatever watchPatterns say.
  store.deployments.setSource(d.id, { ...latest.source, changedFiles: null });
  return store.deployments.get(d.id);
}

/**
 * The deployment a rollback re-activates: `targetId`, or the newest successful one before the active one.
 * Throws when it has no build left to run.
 */
export function rollbackTarget(
  store: Store,
  service: Service,
  env: Environment,
  targetId?: string,
): Deployment {
  const active = store.deployments.findActiveId(service.id, env.id);
  let target: Deployment | undefined;
  if (targetId) {
    target = store.deployments.get(targetId);
    if (target.serviceId !== service.id || target.environmentId !== env.id) {
      throw new UserError(`Deployment ${targetId} belongs to another service or environment.`);
    }
  } else {
    const history = store.deployments.list(service.id, env.id, 200);
    const activeSeq = history.findIndex((d) => d.id === active);
    target = history
      .slice(activeSeq + 1)
      .find(
        (d) =>
          d.id !== active &&
          d.artifactPath &&
          ['REMOVED', 'SUCCESS', 'CRASHED'].includes(d.status) &&
          d.config,
      );
  }
  if (!target?.artifactPath || !target.config) {
    throw new UserError(
      targetId
        ? `Deployment ${targetId} never finished building, so there is nothing to roll back to; pick one from \`berth deployments\` that was SUCCESS.`
        : `Service "${service.name}" has no earlier successful deployment to roll back to.`,
    );
  }
  if (!fs.existsSync(target.artifactPath)) {
    throw new UserError(`The build of deployment ${target.id} was pruned; redeploy its source instead.`);
  }
  return target;
}

/** A new deployment running `target`'s artifact, config and variables again. */
export function cloneOf(store: Store, target: Deployment, kind: 'rollback' | 'restart'): Deployment {
  const d = store.deployments.create({
    serviceId: target.serviceId,
    environmentId: target.environmentId,
    kind,
    message: kind === 'rollback' ? `Rollback to ${target.id}` : `Restart of ${target.id}`,
    sourcePath: target.sourcePath,
    sourceDeploymentId: target.id,
    artifactPath: target.artifactPath,
  });
  store.deployments.setConfig(d.id, {
    config: target.config!,
    origins: target.configOrigins ?? {},
    warnings: target.configWarnings,
  });
  store.deployments.setVariables(d.id, target.variables, target.sealedNames);
  return store.deployments.get(d.id);
}
