/**
 * The `[edge]` policy a service runs with: railway.toml's `[edge]` keys (recorded with the active
 * deployment, so a rollback restores them) win over what `berth waf` set through the API, which wins over
 * the defaults — config as code first, as on Railway.
 */

import { EDGE_FIELDS } from '../core/config/fields.js';
import { defaultServiceConfig } from '../core/config/index.js';
import { ConfigError } from '../core/errors.js';
import type { Deployment, EdgeConfig } from '../core/model.js';
import type { RoutePolicy } from '../edge/routing-table.js';

export type EdgeKey = keyof EdgeConfig;
export const EDGE_KEYS = Object.keys(EDGE_FIELDS) as EdgeKey[];

export interface EffectivePolicy {
  policy: EdgeConfig;
  /** Per key: where the value came from. */
  origins: Record<EdgeKey, 'file' | 'api' | 'default'>;
}

export function effectivePolicy(d: Deployment | null, api: Partial<EdgeConfig>): EffectivePolicy {
  const defaults = defaultServiceConfig().edge as EdgeConfig;
  const file = d?.config?.edge;
  const policy = { ...defaults } as Record<EdgeKey, unknown>;
  const origins = {} as Record<EdgeKey, 'file' | 'api' | 'default'>;
  for (const k of EDGE_KEYS) {
    const o = d?.configOrigins?.[`edge.${k}`]?.source;
    if (file && (o === 'file' || o === 'override')) {
      policy[k] = file[k];
      origins[k] = 'file';
    } else if (api[k] !== undefined) {
      policy[k] = api[k];
      origins[k] = 'api';
    } else {
      origins[k] = 'default';
    }
  }
  return { policy: policy as unknown as EdgeConfig, origins };
}

/** The routing-table form: undefined when the policy enforces nothing. */
export function routePolicy(p: EdgeConfig): RoutePolicy | undefined {
  const active =
    p.rateLimit !== null ||
    p.maxBodySize !== null ||
    p.allowIps.length + p.denyIps.length + p.denyPaths.length > 0;
  return active ? { ...p } : undefined;
}

/**
 * Validates a `berth waf` change with the same rules as railway.toml's `[edge]`; null clears a key.
 * Throws a ConfigError naming the key.
 */
export function applyPolicyPatch(
  current: Partial<EdgeConfig>,
  patch: Record<string, unknown>,
): Partial<EdgeConfig> {
  const next: Record<string, unknown> = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (!(EDGE_KEYS as string[]).includes(k)) {
      throw new ConfigError('edge policy', k, `is not an edge setting; use one of ${EDGE_KEYS.join(', ')}`);
    }
    if (v === null) {
      delete next[k];
      continue;
    }
    next[k] = EDGE_FIELDS[k as EdgeKey](v, { file: 'edge policy', key: k });
  }
  return next as Partial<EdgeConfig>;
}
