import { randomUUID } from 'node:crypto';
import { NotFoundError, UserError } from '../core/errors.js';
import type { Environment, Project } from '../core/model.js';
import { now, type Row, type StoreContext } from './context.js';
import { assertName } from './generated-names.js';

export function toProject(r: Row): Project {
  return { id: String(r.id), name: String(r.name), createdAt: String(r.created_at) };
}

/** Table `projects`; a new project comes with its `production` environment. */
export class Projects {
  constructor(private readonly ctx: StoreContext) {}

  create(name: string): { project: Project; environments: Environment[] } {
    assertName('Project', name);
    if (this.find(name)) {
      throw new UserError(`A project named "${name}" already exists; pick another name or link to it.`, {
        status: 409,
        code: 'conflict',
      });
    }
    const project: Project = { id: randomUUID(), name, createdAt: now() };
    const env: Environment = {
      id: randomUUID(),
      projectId: project.id,
      name: 'production',
      createdAt: project.createdAt,
      kind: 'persistent',
      branch: null,
      baseEnvironmentId: null,
    };
    const { db } = this.ctx;
    db.transaction(() => {
      db.prepare('INSERT INTO projects (id, name, created_at) VALUES (?, ?, ?)').run(
        project.id,
        project.name,
        project.createdAt,
      );
      db.prepare('INSERT INTO environments (id, project_id, name, created_at) VALUES (?, ?, ?, ?)').run(
        env.id,
        env.projectId,
        env.name,
        env.createdAt,
      );
    })();
    return { project, environments: [env] };
  }

  list(): Project[] {
    return this.ctx.db
      .prepare('SELECT * FROM projects ORDER BY created_at')
      .all()
      .map((r) => toProject(r as Row));
  }

  /** By id or name. */
  find(ref: string): Project | null {
    const r = this.ctx.db.prepare('SELECT * FROM projects WHERE id = ? OR name = ?').get(ref, ref) as
      | Row
      | undefined;
    return r ? toProject(r) : null;
  }

  get(ref: string): Project {
    const p = this.find(ref);
    if (!p) throw new NotFoundError(`Project "${ref}" does not exist; create it with \`berth init\`.`);
    return p;
  }

  getById(id: string): Project {
    const r = this.ctx.db.prepare('SELECT * FROM projects WHERE id = ?').get(id) as Row | undefined;
    if (!r) throw new NotFoundError(`Project ${id} does not exist.`);
    return toProject(r);
  }

  /** The row; its tokens, secrets and webhook settings cascade. Environments and services must be gone first. */
  delete(projectId: string): void {
    this.ctx.db.prepare('DELETE FROM projects WHERE id = ?').run(projectId);
  }
}
