import { UserError } from '../core/errors.js';
import { generatedLabel } from '../core/hostname-label.js';
import type { Row, StoreContext } from './context.js';

/** One service in one environment and the label of its generated host name; `since` orders claims. */
export interface GeneratedName {
  label: string;
  project: string;
  service: string;
  environment: string;
  serviceId: string;
  environmentId: string;
  /** When the name came to be: the later of the service's and the environment's creation. */
  since: string;
}

type NameParts = { project: string; service: string; environment: string };

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

/** Checks a project/service/environment name; they end up in hostnames and paths. */
export function assertName(kind: string, name: string): void {
  if (!NAME_RE.test(name)) {
    throw new UserError(
      `${kind} name "${name}" is not valid; use letters, digits, "-" or "_" (up to 63 characters, starting with a letter or digit).`,
    );
  }
}

/** The generated host names of every (service, environment) pair, which must stay unique. */
export class GeneratedNames {
  constructor(private readonly ctx: StoreContext) {}

  /** Every service in every environment of its project, with the label of its generated host name. */
  list(): GeneratedName[] {
    const rows = this.ctx.db
      .prepare(
        `SELECT p.name AS project, s.name AS service, e.name AS environment, s.id AS service_id,
           e.id AS environment_id, MAX(s.created_at, e.created_at) AS since
         FROM services s JOIN projects p ON p.id = s.project_id JOIN environments e ON e.project_id = s.project_id`,
      )
      .all() as Row[];
    return rows.map((r) => {
      const names = {
        project: String(r.project),
        service: String(r.service),
        environment: String(r.environment),
      };
      return {
        ...names,
        label: generatedLabel(names),
        serviceId: String(r.service_id),
        environmentId: String(r.environment_id),
        since: String(r.since),
      };
    });
  }

  /**
   * Refuses (409) names that would give a service a generated host name another service already has:
   * `<service>-<project>[-<env>]` is ambiguous, and the edge can route a host name to one service only.
   */
  assertFree(wanted: NameParts[], fix: string): void {
    if (wanted.length === 0) return;
    const taken = new Map(this.list().map((n) => [n.label, n]));
    for (const w of wanted) {
      const label = generatedLabel(w);
      const owner = taken.get(label);
      if (!owner) continue;
      const where = (n: NameParts) => `service "${n.service}" of project "${n.project}" (${n.environment})`;
      throw new UserError(
        `The generated host name ${label} of ${where(w)} is already the host name of ${where(owner)}; ${fix}.`,
        { status: 409, code: 'hostname_taken' },
      );
    }
  }
}
