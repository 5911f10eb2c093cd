import type { StoreContext } from './context.js';

/**
 * Table `private_endpoints`: the private-network number of a service in an environment, allocated on
 * first use and kept for good (so its address and default port never change). Numbers of deleted
 * services are not reused while a higher one exists.
 */
export class PrivateEndpoints {
  constructor(private readonly ctx: StoreContext) {}

  seq(serviceId: string, environmentId: string): number {
    const { db } = this.ctx;
    const get = db.prepare('SELECT seq FROM private_endpoints WHERE service_id = ? AND environment_id = ?');
    const found = get.get(serviceId, environmentId) as { seq: number } | undefined;
    if (found) return found.seq;
    return db.transaction(() => {
      const again = get.get(serviceId, environmentId) as { seq: number } | undefined;
      if (again) return again.seq;
      const { next } = db
        .prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM private_endpoints')
        .get() as {
        next: number;
      };
      db.prepare('INSERT INTO private_endpoints (service_id, environment_id, seq) VALUES (?, ?, ?)').run(
        serviceId,
        environmentId,
        next,
      );
      return next;
    })();
  }
}
