import type { StoreContext } from './context.js';

/**
 * Table `sandbox_users`: the sandbox user number of a service in an environment, allocated on first
 * use and kept for good; numbers are never handed out twice, even after the service is deleted.
 */
export class SandboxUsers {
  constructor(private readonly ctx: StoreContext) {}

  seq(serviceId: string, environmentId: string): number {
    const { db } = this.ctx;
    const get = db.prepare('SELECT seq FROM sandbox_users WHERE service_id = ? AND environment_id = ?');
    const found = get.get(serviceId, environmentId) as { seq: number } | undefined;
    if (found) return found.seq;
    db.prepare('INSERT OR IGNORE INTO sandbox_users (service_id, environment_id) VALUES (?, ?)').run(
      serviceId,
      environmentId,
    );
    return (get.get(serviceId, environmentId) as { seq: number }).seq;
  }

  /** The numbers a service was given, in every environment (their rows go with the service; numbers stay used). */
  seqsOf(serviceId: string): number[] {
    return (
      this.ctx.db.prepare('SELECT seq FROM sandbox_users WHERE service_id = ?').all(serviceId) as {
        seq: number;
      }[]
    ).map((r) => r.seq);
  }
}
