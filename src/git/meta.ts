import type { GitMeta } from '../core/model.js';

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
