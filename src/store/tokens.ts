import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { PROJECT_TOKEN } from '../core/project-token.js';
import { now, type Row, type StoreContext } from './context.js';

/** A project token (Railway's RAILWAY_TOKEN): deploys and reads one environment of one project. */
export interface ProjectToken {
  id: string;
  projectId: string;
  environmentId: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export function toProjectToken(r: Row): ProjectToken {
  return {
    id: r.id as string,
    projectId: r.project_id as string,
    environmentId: r.environment_id as string,
    name: r.name as string,
    createdAt: r.created_at as string,
    lastUsedAt: (r.last_used_at as string | null) ?? null,
  };
}

const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

/** Table `project_tokens`: only a hash of each secret is kept. */
export class ProjectTokens {
  constructor(private readonly ctx: StoreContext) {}

  /** A new token; the secret is returned once. */
  create(projectId: string, environmentId: string, name: string): { token: ProjectToken; secret: string } {
    const secret = `berth_pt_${projectId}_${environmentId}_${randomBytes(24).toString('hex')}`;
    const id = randomUUID();
    const { db } = this.ctx;
    db.prepare(
      'INSERT INTO project_tokens (id, project_id, environment_id, name, secret_sha256, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    ).run(id, projectId, environmentId, name, sha256Hex(secret), now());
    return {
      token: toProjectToken(db.prepare('SELECT * FROM project_tokens WHERE id = ?').get(id) as Row),
      secret,
    };
  }

  list(projectId: string): ProjectToken[] {
    return this.ctx.db
      .prepare('SELECT * FROM project_tokens WHERE project_id = ? ORDER BY created_at')
      .all(projectId)
      .map((r) => toProjectToken(r as Row));
  }

  /** Revokes a token of the project by id or name; false when there is none. */
  delete(projectId: string, ref: string): boolean {
    return (
      this.ctx.db
        .prepare('DELETE FROM project_tokens WHERE project_id = ? AND (id = ? OR name = ?)')
        .run(projectId, ref, ref).changes > 0
    );
  }

  /** The token a secret belongs to (and notes its use), or null. */
  findBySecret(secret: string): ProjectToken | null {
    if (!PROJECT_TOKEN.test(secret)) return null;
    const { db } = this.ctx;
    const r = db.prepare('SELECT * FROM project_tokens WHERE secret_sha256 = ?').get(sha256Hex(secret)) as
      | Row
      | undefined;
    if (!r) return null;
    db.prepare('UPDATE project_tokens SET last_used_at = ? WHERE id = ?').run(now(), r.id);
    return toProjectToken(r);
  }
}
