import type { PullRequestPayload, PushPayload, StatusPayload } from './github.js';

/**
 * GitLab's webhooks mapped onto the GitHub shapes Berth acts on: "Push Hook" → push, "Merge Request
 * Hook" → pull_request (preview `pr-<iid>`), "Pipeline Hook" → a commit status. GitLab authenticates
 * with a plain shared token (`X-Gitlab-Token`), not a body signature.
 */
interface GitLabProject {
  git_http_url?: string;
  git_ssh_url?: string;
  web_url?: string;
  default_branch?: string;
}

const ZERO = '0'.repeat(40);

function repository(p: GitLabProject | undefined) {
  return p
    ? {
        clone_url: p.git_http_url,
        ssh_url: p.git_ssh_url,
        html_url: p.web_url,
        default_branch: p.default_branch,
      }
    : undefined;
}

export function gitlabPush(body: {
  ref?: string;
  before?: string;
  after?: string;
  project?: GitLabProject;
}): PushPayload {
  return {
    ref: body.ref,
    before: body.before,
    after: body.after,
    deleted: body.after === ZERO,
    repository: repository(body.project),
  };
}

const MR_ACTIONS: Record<string, string> = {
  open: 'opened',
  reopen: 'reopened',
  update: 'synchronize',
  close: 'closed',
  merge: 'closed',
};

export function gitlabMergeRequest(body: {
  object_attributes?: {
    iid?: number;
    action?: string;
    source_branch?: string;
    target_branch?: string;
    oldrev?: string;
    last_commit?: { id?: string };
    source?: GitLabProject;
    target?: GitLabProject;
    source_project_id?: number;
    target_project_id?: number;
  };
  project?: GitLabProject;
}): PullRequestPayload {
  const mr = body.object_attributes ?? {};
  // GitLab names both projects by id: a merge request from a fork has a source project of its own.
  const ids = typeof mr.source_project_id === 'number' && typeof mr.target_project_id === 'number';
  return {
    ...(ids ? { fromFork: mr.source_project_id !== mr.target_project_id } : {}),
    action: MR_ACTIONS[mr.action ?? ''] ?? mr.action,
    number: mr.iid,
    before: mr.oldrev,
    pull_request: {
      number: mr.iid,
      head: { ref: mr.source_branch, sha: mr.last_commit?.id, repo: repository(mr.source) ?? null },
      base: { ref: mr.target_branch, repo: repository(mr.target ?? body.project) ?? null },
    },
    repository: repository(body.project),
  };
}

const PIPELINE_STATES: Record<string, string> = {
  success: 'success',
  failed: 'failure',
  canceled: 'cancelled',
  skipped: 'failure',
};

export function gitlabPipeline(body: {
  object_attributes?: { sha?: string; status?: string; id?: number };
}): StatusPayload {
  const p = body.object_attributes ?? {};
  return {
    sha: p.sha,
    state: PIPELINE_STATES[p.status ?? ''] ?? 'pending',
    context: 'gitlab/pipeline',
    description: p.id ? `pipeline ${p.id} ${p.status}` : (p.status ?? null),
  };
}
