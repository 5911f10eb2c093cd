import type { StoreContext } from './context.js';
import { projectSecretAad } from './sealed-columns.js';

/** What a signed pull request event from a fork does: nothing (the default) or a preview build. */
export type ForkPrPolicy = 'skip' | 'build';

/** A project's webhook settings: its sealed secrets (table `project_secrets`), status URL and fork policy. */
export class WebhookSettings {
  constructor(private readonly ctx: StoreContext) {}

  /** A project's sealed secret (the webhook secret), or null. */
  findSecret(projectId: string, name: string): string | null {
    const r = this.ctx.db
      .prepare('SELECT value FROM project_secrets WHERE project_id = ? AND name = ?')
      .get(projectId, name) as { value: string } | undefined;
    return r ? this.ctx.box.open(r.value, projectSecretAad(projectId, name)) : null;
  }

  setSecret(projectId: string, name: string, value: string | null): void {
    const { db, box } = this.ctx;
    if (value === null) {
      db.prepare('DELETE FROM project_secrets WHERE project_id = ? AND name = ?').run(projectId, name);
      return;
    }
    db.prepare(
      `INSERT INTO project_secrets (project_id, name, value) VALUES (?, ?, ?)
       ON CONFLICT (project_id, name) DO UPDATE SET value = excluded.value`,
    ).run(projectId, name, box.seal(value, projectSecretAad(projectId, name)));
  }

  findStatusUrl(projectId: string): string | null {
    const r = this.ctx.db.prepare('SELECT status_url FROM projects WHERE id = ?').get(projectId) as
      | { status_url: string | null }
      | undefined;
    return r?.status_url ?? null;
  }

  setStatusUrl(projectId: string, url: string | null): void {
    this.ctx.db.prepare('UPDATE projects SET status_url = ? WHERE id = ?').run(url, projectId);
  }

  /** Whether pull requests from forks are built ('build') or answered with a skip ('skip', the default). */
  forkPrs(projectId: string): ForkPrPolicy {
    const r = this.ctx.db.prepare('SELECT fork_prs FROM projects WHERE id = ?').get(projectId) as
      | { fork_prs: string }
      | undefined;
    return r?.fork_prs === 'build' ? 'build' : 'skip';
  }

  setForkPrs(projectId: string, policy: ForkPrPolicy): void {
    this.ctx.db.prepare('UPDATE projects SET fork_prs = ? WHERE id = ?').run(policy, projectId);
  }
}
