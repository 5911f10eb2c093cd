import type { EdgeConfig } from '../core/model.js';
import { now, type StoreContext } from './context.js';

/** Table `edge_policies`: the `berth waf` settings of a service in an environment. */
export class EdgePolicies {
  constructor(private readonly ctx: StoreContext) {}

  /** Keys absent = not set there; a service never configured has `{}`. */
  of(serviceId: string, environmentId: string): Partial<EdgeConfig> {
    const r = this.ctx.db
      .prepare('SELECT policy_json FROM edge_policies WHERE service_id = ? AND environment_id = ?')
      .get(serviceId, environmentId) as { policy_json: string } | undefined;
    return r ? (JSON.parse(r.policy_json) as Partial<EdgeConfig>) : {};
  }

  set(serviceId: string, environmentId: string, policy: Partial<EdgeConfig>): void {
    this.ctx.db
      .prepare(
        `INSERT INTO edge_policies (service_id, environment_id, policy_json, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (service_id, environment_id) DO UPDATE SET policy_json = excluded.policy_json,
           updated_at = excluded.updated_at`,
      )
      .run(serviceId, environmentId, JSON.stringify(policy), now());
  }
}
