/**
 * Autoscaling keys checked together once every layer is applied (they may come from different layers): on when
 * maxReplicas is set, with minReplicas (default 1) ≤ numReplicas (clamped into the range) ≤ maxReplicas.
 */
import { ConfigError } from '../errors.js';
import type { ServiceConfig, ValueOrigin } from '../model.js';

/** CPU per replica autoscaling aims at when the config names none (the seeds' "CPU > 70 %"). */
export const DEFAULT_TARGET_CPU_PERCENT = 70;

function where(origins: Record<string, ValueOrigin>, key: string): { file: string; key: string | null } {
  const o = origins[`deploy.${key}`];
  const file = o?.variable ?? o?.file ?? (o?.source === 'service settings' ? 'service settings' : 'config');
  return { file, key: o?.environment ? `environments.${o.environment}.deploy.${key}` : `deploy.${key}` };
}

export function checkAutoscaling(
  config: ServiceConfig,
  origins: Record<string, ValueOrigin>,
  cap: number | undefined,
): void {
  const d = config.deploy;
  const fail = (key: string, message: string): never => {
    const at = where(origins, key);
    throw new ConfigError(at.file, at.key, message);
  };
  if (d.maxReplicas === null || d.maxReplicas === undefined) {
    if (d.minReplicas != null)
      fail('minReplicas', 'needs deploy.maxReplicas too: autoscaling is on when maxReplicas is set');
    if (d.targetCPUPercent != null)
      fail('targetCPUPercent', 'needs deploy.maxReplicas too: autoscaling is on when maxReplicas is set');
    return;
  }
  if (d.cronSchedule)
    fail('maxReplicas', 'cannot autoscale a cron service (deploy.cronSchedule); remove maxReplicas');
  if (d.singleton) fail('maxReplicas', 'cannot autoscale a singleton (deploy.singleton); remove maxReplicas');
  const min = d.minReplicas ?? 1;
  if (min > d.maxReplicas)
    fail(
      'minReplicas',
      `is ${min}, more than deploy.maxReplicas (${d.maxReplicas}); make it ${d.maxReplicas} or less`,
    );
  if (cap !== undefined && d.maxReplicas > cap)
    fail(
      'maxReplicas',
      `asks for up to ${d.maxReplicas} replicas, more than this server runs for one deployment (${cap}); lower it, or start the server with --max-replicas ${d.maxReplicas}`,
    );
  d.minReplicas = min;
  d.targetCPUPercent ??= DEFAULT_TARGET_CPU_PERCENT;
  d.numReplicas = Math.min(Math.max(d.numReplicas, min), d.maxReplicas);
}
