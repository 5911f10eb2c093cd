import { randomUUID } from 'node:crypto';
import { NotFoundError, UserError } from '../core/errors.js';
import { type Project, SERVICE_KINDS, type Service, type ServiceKind } from '../core/model.js';
import { now, type Row, type StoreContext } from './context.js';
import { assertName, type GeneratedNames } from './generated-names.js';

export function toService(r: Row): Service {
  return {
    id: String(r.id),
    projectId: String(r.project_id),
    name: String(r.name),
    createdAt: String(r.created_at),
    rootDirectory: (r.root_directory as string | null) ?? null,
    configPath: (r.config_path as string | null) ?? null,
    repoUrl: (r.repo_url as string | null) ?? null,
    repoBranch: (r.repo_branch as string | null) ?? null,
    waitForChecks: Number(r.wait_for_checks ?? 0) === 1,
    kind: toKind(r.kind),
  };
}

function toKind(v: unknown): ServiceKind {
  return (SERVICE_KINDS as readonly unknown[]).includes(v) ? (v as ServiceKind) : 'app';
}

/** A service's source settings as `updateSource` takes them. */
export interface ServiceSourcePatch {
  rootDirectory?: string | null;
  configPath?: string | null;
  repoUrl?: string | null;
  repoBranch?: string | null;
  waitForChecks?: boolean;
}

const SOURCE_COLUMNS: [keyof ServiceSourcePatch, string][] = [
  ['rootDirectory', 'root_directory'],
  ['configPath', 'config_path'],
  ['repoUrl', 'repo_url'],
  ['repoBranch', 'repo_branch'],
  ['waitForChecks', 'wait_for_checks'],
];

/** Table `services`: a project's services (one per environment of the project). */
export class Services {
  constructor(
    private readonly ctx: StoreContext,
    private readonly names: GeneratedNames,
  ) {}

  create(project: Project, name: string, kind: ServiceKind = 'app'): Service {
    this.assertNameFree(project, name, null, 'pick another name for the service');
    const s: Service = {
      id: randomUUID(),
      projectId: project.id,
      name,
      createdAt: now(),
      rootDirectory: null,
      configPath: null,
      repoUrl: null,
      repoBranch: null,
      waitForChecks: false,
      kind,
    };
    this.ctx.db
      .prepare('INSERT INTO services (id, project_id, name, created_at, kind) VALUES (?, ?, ?, ?, ?)')
      .run(s.id, s.projectId, s.name, s.createdAt, s.kind);
    return s;
  }

  list(projectId: string): Service[] {
    return this.ctx.db
      .prepare('SELECT * FROM services WHERE project_id = ? ORDER BY created_at')
      .all(projectId)
      .map((r) => toService(r as Row));
  }

  /** By id or name, within the project. */
  find(project: Project, ref: string): Service | null {
    const r = this.ctx.db
      .prepare('SELECT * FROM services WHERE project_id = ? AND (id = ? OR name = ?)')
      .get(project.id, ref, ref) as Row | undefined;
    return r ? toService(r) : null;
  }

  get(project: Project, ref: string): Service {
    const s = this.find(project, ref);
    if (!s) {
      throw new NotFoundError(
        `Service "${ref}" does not exist in project "${project.name}"; create it with \`berth add --service ${ref}\` or deploy with \`berth up\`.`,
      );
    }
    return s;
  }

  findById(id: string): Service | null {
    const r = this.ctx.db.prepare('SELECT * FROM services WHERE id = ?').get(id) as Row | undefined;
    return r ? toService(r) : null;
  }

  getById(id: string): Service {
    const r = this.ctx.db.prepare('SELECT * FROM services WHERE id = ?').get(id) as Row | undefined;
    if (!r) throw new NotFoundError(`Service ${id} does not exist.`);
    return toService(r);
  }

  /** Sets a service's source settings; `undefined` leaves one unchanged, null clears it. */
  updateSource(serviceId: string, patch: ServiceSourcePatch): Service {
    for (const [key, column] of SOURCE_COLUMNS) {
      const value = patch[key];
      if (value === undefined) continue;
      const stored = typeof value === 'boolean' ? Number(value) : value;
      this.ctx.db.prepare(`UPDATE services SET ${column} = ? WHERE id = ?`).run(stored, serviceId);
    }
    return this.getById(serviceId);
  }

  /**
   * A new name for a service (`berth bucket rename`): checked like a new service's, and its generated host
   * names must stay free. References to the old name (`${{OLD.X}}`) stop resolving, as on Railway.
   */
  rename(project: Project, serviceId: string, name: string): Service {
    this.assertNameFree(project, name, serviceId, 'pick another name');
    this.ctx.db.prepare('UPDATE services SET name = ? WHERE id = ?').run(name, serviceId);
    return this.getById(serviceId);
  }

  /**
   * A valid name no other service of the project has (`self`: the service being renamed), whose generated host
   * names are free in every environment; `hint` ends the host-name clash's sentence.
   */
  private assertNameFree(project: Project, name: string, self: string | null, hint: string): void {
    assertName('Service', name);
    const other = this.find(project, name);
    if (other && other.id !== self) {
      throw new UserError(`Service "${name}" already exists in project "${project.name}".`, {
        status: 409,
        code: 'conflict',
      });
    }
    const environments = this.ctx.db
      .prepare('SELECT name FROM environments WHERE project_id = ? ORDER BY created_at')
      .all(project.id) as { name: string }[];
    this.names.assertFree(
      environments.map((e) => ({ project: project.name, service: name, environment: e.name })),
      hint,
    );
  }

  /** The row; variables, domains, settings and the rest cascade. `Store.deleteServiceRows` clears deployments first. */
  delete(serviceId: string): void {
    this.ctx.db.prepare('DELETE FROM services WHERE id = ?').run(serviceId);
  }
}
