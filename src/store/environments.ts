import { randomUUID } from 'node:crypto';
import { NotFoundError, UserError } from '../core/errors.js';
import type { Environment, Project } from '../core/model.js';
import { now, type Row, type StoreContext } from './context.js';
import { assertName, type GeneratedNames } from './generated-names.js';

export function toEnvironment(r: Row): Environment {
  return {
    id: String(r.id),
    projectId: String(r.project_id),
    name: String(r.name),
    createdAt: String(r.created_at),
    kind: (r.kind as Environment['kind'] | undefined) ?? 'persistent',
    branch: (r.branch as string | null) ?? null,
    baseEnvironmentId: (r.base_environment_id as string | null) ?? null,
  };
}

/** Table `environments`: a project's persistent environments and its branch previews. */
export class Environments {
  constructor(
    private readonly ctx: StoreContext,
    private readonly names: GeneratedNames,
  ) {}

  create(
    project: Project,
    name: string,
    opts: { kind?: Environment['kind']; branch?: string | null; base?: Environment | null } = {},
  ): Environment {
    assertName('Environment', name);
    const { db } = this.ctx;
    if (db.prepare('SELECT 1 FROM environments WHERE project_id = ? AND name = ?').get(project.id, name)) {
      throw new UserError(`Environment "${name}" already exists in project "${project.name}".`, {
        status: 409,
        code: 'conflict',
      });
    }
    const services = db
      .prepare('SELECT name FROM services WHERE project_id = ? ORDER BY created_at')
      .all(project.id) as { name: string }[];
    this.names.assertFree(
      services.map((sv) => ({ project: project.name, service: sv.name, environment: name })),
      `pick another name for the environment`,
    );
    const env: Environment = {
      id: randomUUID(),
      projectId: project.id,
      name,
      createdAt: now(),
      kind: opts.kind ?? 'persistent',
      branch: opts.branch ?? null,
      baseEnvironmentId: opts.base?.id ?? null,
    };
    db.prepare(
      `INSERT INTO environments (id, project_id, name, created_at, kind, branch, base_environment_id)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(env.id, env.projectId, env.name, env.createdAt, env.kind, env.branch, env.baseEnvironmentId);
    return env;
  }

  list(projectId: string): Environment[] {
    return this.ctx.db
      .prepare('SELECT * FROM environments WHERE project_id = ? ORDER BY created_at')
      .all(projectId)
      .map((r) => toEnvironment(r as Row));
  }

  /** By id or name, within the project. */
  find(project: Project, ref: string): Environment | null {
    const r = this.ctx.db
      .prepare('SELECT * FROM environments WHERE project_id = ? AND (id = ? OR name = ?)')
      .get(project.id, ref, ref) as Row | undefined;
    return r ? toEnvironment(r) : null;
  }

  get(project: Project, ref: string): Environment {
    const env = this.find(project, ref);
    if (!env) throw new NotFoundError(`Environment "${ref}" does not exist in project "${project.name}".`);
    return env;
  }

  findById(id: string): Environment | null {
    const r = this.ctx.db.prepare('SELECT * FROM environments WHERE id = ?').get(id) as Row | undefined;
    return r ? toEnvironment(r) : null;
  }

  getById(id: string): Environment {
    const env = this.findById(id);
    if (!env) throw new NotFoundError(`Environment ${id} does not exist.`);
    return env;
  }

  /** The preview environment a branch deploys to, if one was made for it. */
  findPreview(project: Project, branch: string): Environment | null {
    const r = this.ctx.db
      .prepare("SELECT * FROM environments WHERE project_id = ? AND kind = 'preview' AND branch = ?")
      .get(project.id, branch) as Row | undefined;
    return r ? toEnvironment(r) : null;
  }

  /** Marks a preview made for a fork's pull request (created without copied variables). */
  markForkPreview(environmentId: string): void {
    this.ctx.db.prepare('UPDATE environments SET from_fork = 1 WHERE id = ?').run(environmentId);
  }

  isForkPreview(environmentId: string): boolean {
    const r = this.ctx.db.prepare('SELECT from_fork FROM environments WHERE id = ?').get(environmentId) as
      | { from_fork: number }
      | undefined;
    return r?.from_fork === 1;
  }

  /** The row alone; `Store.deleteEnvironmentRows` removes what hangs off it first. */
  delete(environmentId: string): void {
    this.ctx.db.prepare('DELETE FROM environments WHERE id = ?').run(environmentId);
  }
}
