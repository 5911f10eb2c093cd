import type { ServiceSettings } from '../core/model.js';
import { now, type StoreContext } from './context.js';

/** Table `service_settings`: the `berth service update` settings of a service in an environment. */
export class ServiceSettingsStore {
  constructor(private readonly ctx: StoreContext) {}

  /** Keys absent = not set; a service never configured has `{}`. */
  of(serviceId: string, environmentId: string): ServiceSettings {
    const r = this.ctx.db
      .prepare('SELECT settings_json FROM service_settings WHERE service_id = ? AND environment_id = ?')
      .get(serviceId, environmentId) as { settings_json: string } | undefined;
    return r ? (JSON.parse(r.settings_json) as ServiceSettings) : {};
  }

  set(serviceId: string, environmentId: string, settings: ServiceSettings): void {
    this.ctx.db
      .prepare(
        `INSERT INTO service_settings (service_id, environment_id, settings_json, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (service_id, environment_id) DO UPDATE SET settings_json = excluded.settings_json,
           updated_at = excluded.updated_at`,
      )
      .run(serviceId, environmentId, JSON.stringify(settings), now());
  }

  /** A duplicated environment (or a preview) starts with its base's settings, as on Railway. */
  copy(fromEnvironmentId: string, toEnvironmentId: string): void {
    this.ctx.db
      .prepare(
        `INSERT OR REPLACE INTO service_settings (service_id, environment_id, settings_json, updated_at)
         SELECT service_id, ?, settings_json, ? FROM service_settings WHERE environment_id = ?`,
      )
      .run(toEnvironmentId, now(), fromEnvironmentId);
  }
}
