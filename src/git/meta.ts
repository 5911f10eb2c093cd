import type { Db } from '../store/db.js';

/** What a `git push` deployment records about its commit (columns git_* of deployments). */
export interface GitMeta {
  sha: string;
  branch: string;
  author: string;
  message: string;
}

interface GitRow {
  git_sha: string | null;
  git_branch: string | null;
  git_author: string | null;
  git_message: string | null;
  source_deployment_id: string | null;
}

export function writeGitMeta(db: Db, deploymentId: string, meta: GitMeta): void {
  db.prepare(
    'UPDATE deployments SET git_sha = ?, git_branch = ?, git_author = ?, git_message = ? WHERE id = ?',
  ).run(meta.sha, meta.branch, meta.author, meta.message, deploymentId);
}

/**
 * The commit a deployment runs. Redeploys, rollbacks and restarts reuse an earlier deployment's
 * source, so the metadata is looked up along `source_deployment_id`.
 */
export function readGitMeta(db: Db, deploymentId: string): GitMeta | null {
  let id: string | null = deploymentId;
  for (let hops = 0; id && hops < 50; hops++) {
    const r = db
      .prepare(
        'SELECT git_sha, git_branch, git_author, git_message, source_deployment_id FROM deployments WHERE id = ?',
      )
      .get(id) as GitRow | undefined;
    if (!r) return null;
    if (r.git_sha) {
      return {
        sha: r.git_sha,
        branch: r.git_branch ?? '',
        author: r.git_author ?? '',
        message: r.git_message ?? '',
      };
    }
    id = r.source_deployment_id;
  }
  return null;
}

/** RAILWAY_GIT_* (Railway's names, so apps run unchanged) and their BERTH_GIT_* twins. */
export function gitVariables(meta: GitMeta): Record<string, string> {
  const v: Record<string, string> = {};
  const pairs: [string, string][] = [
    ['COMMIT_SHA', meta.sha],
    ['BRANCH', meta.branch],
    ['AUTHOR', meta.author],
    ['COMMIT_MESSAGE', meta.message],
  ];
  for (const [k, value] of pairs) {
    v[`RAILWAY_GIT_${k}`] = value;
    v[`BERTH_GIT_${k}`] = value;
  }
  return v;
}
