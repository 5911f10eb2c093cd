/**
 * A service's `[edge]` policy as `berth waf` reads and changes it: the effective values (edge-policy.ts) and
 * API-set changes applied at once, through the next routing table, without a deploy.
 */

import type { Environment, Service } from '../core/model.js';
import type { Store } from '../store/store.js';
import { applyPolicyPatch, type EffectivePolicy, effectivePolicy } from './edge-policy.js';

export class EdgePolicies {
  constructor(
    private readonly store: Store,
    private readonly routes: { sync(): Promise<void> },
  ) {}

  /** The policy the edge enforces for a service now, and where each value comes from. */
  of(service: Service, env: Environment): EffectivePolicy {
    const active = this.store.deployments.findActiveId(service.id, env.id);
    const d = active ? this.store.deployments.get(active) : null;
    return effectivePolicy(d, this.store.edgePolicies.of(service.id, env.id));
  }

  /** Changes the API-set policy (null clears a key) and applies it at once. */
  async set(service: Service, env: Environment, patch: Record<string, unknown>): Promise<EffectivePolicy> {
    const next = applyPolicyPatch(this.store.edgePolicies.of(service.id, env.id), patch);
    this.store.edgePolicies.set(service.id, env.id, next);
    await this.routes.sync();
    return this.of(service, env);
  }
}
