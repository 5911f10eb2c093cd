import { UserError } from '../core/errors.js';
import { now, type Row, type StoreContext } from './context.js';

export interface CustomDomain {
  hostname: string;
  serviceId: string;
  environmentId: string;
  /** Plain-HTTP requests get a 308 to HTTPS once the domain has a certificate. */
  httpsRedirect: boolean;
  createdAt: string;
}

export function toDomain(r: Row): CustomDomain {
  return {
    hostname: r.hostname as string,
    serviceId: r.service_id as string,
    environmentId: r.environment_id as string,
    httpsRedirect: r.https_redirect === 1,
    createdAt: r.created_at as string,
  };
}

/** Table `domains`: custom host names, each owned by one service in one environment. */
export class Domains {
  constructor(private readonly ctx: StoreContext) {}

  /** Adds a custom domain (already normalised); 409 naming the owner when the name is taken. */
  add(hostname: string, serviceId: string, environmentId: string, httpsRedirect = true): CustomDomain {
    const owner = this.find(hostname);
    if (owner) {
      const { db } = this.ctx;
      const where = db
        .prepare(
          `SELECT s.name AS service, e.name AS environment, p.name AS project
           FROM services s JOIN projects p ON p.id = s.project_id, environments e
           WHERE s.id = ? AND e.id = ?`,
        )
        .get(owner.serviceId, owner.environmentId) as {
        service: string;
        environment: string;
        project: string;
      };
      const same = owner.serviceId === serviceId && owner.environmentId === environmentId;
      throw new UserError(
        same
          ? `${hostname} is already a domain of this service.`
          : `${hostname} is already the domain of service ${where.service} (${where.environment}) in project ${where.project}; delete it there first.`,
        { status: 409, code: 'domain_taken' },
      );
    }
    this.ctx.db
      .prepare(
        'INSERT INTO domains (hostname, service_id, environment_id, https_redirect, created_at) VALUES (?, ?, ?, ?, ?)',
      )
      .run(hostname, serviceId, environmentId, httpsRedirect ? 1 : 0, now());
    return this.find(hostname) as CustomDomain;
  }

  /** The domain row, which names its owner, or null. */
  find(hostname: string): CustomDomain | null {
    const r = this.ctx.db.prepare('SELECT * FROM domains WHERE hostname = ?').get(hostname) as
      | Row
      | undefined;
    return r ? toDomain(r) : null;
  }

  /** Custom domains of one service in one environment, or of everything when no ids are given. */
  list(serviceId?: string, environmentId?: string): CustomDomain[] {
    const rows =
      serviceId === undefined
        ? this.ctx.db.prepare('SELECT * FROM domains ORDER BY hostname').all()
        : this.ctx.db
            .prepare('SELECT * FROM domains WHERE service_id = ? AND environment_id = ? ORDER BY hostname')
            .all(serviceId, environmentId);
    return rows.map((r) => toDomain(r as Row));
  }

  /** Deletes a custom domain of this service; false when it has no such domain. */
  delete(hostname: string, serviceId: string, environmentId: string): boolean {
    const res = this.ctx.db
      .prepare('DELETE FROM domains WHERE hostname = ? AND service_id = ? AND environment_id = ?')
      .run(hostname, serviceId, environmentId);
    return res.changes > 0;
  }
}
