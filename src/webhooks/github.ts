import type { WebhookResult } from '../api/contract/index.js';
import type { Environment, Project, Service } from '../core/model.js';
import { previewName } from '../git/branches.js';
import { deployPlan, type PushDeps, type PushOutcome, withBranchLock } from '../git/deploy.js';
import { ensureRepo } from '../git/repo.js';
import { fetchCommit } from './remote.js';

/** The parts of GitHub's webhook payloads Berth reads (GitLab-style pushes share `ref/before/after`). */
interface Repository {
  /** `owner/name` (GitHub); compared case-insensitively when both sides of a pull request have it. */
  full_name?: string;
  clone_url?: string;
  git_url?: string;
  ssh_url?: string;
  html_url?: string;
  url?: string;
  default_branch?: string;
}
export interface PushPayload {
  ref?: string;
  before?: string;
  after?: string;
  deleted?: boolean;
  repository?: Repository;
}
export interface PullRequestPayload {
  action?: string;
  number?: number;
  pull_request?: {
    number?: number;
    head?: { ref?: string; sha?: string; repo?: Repository | null };
    base?: { ref?: string; repo?: Repository | null };
  };
  before?: string;
  repository?: Repository;
  /** Set by mappers that know for sure (GitLab's source/target project ids); otherwise compared by repository. */
  fromFork?: boolean;
}
export interface StatusPayload {
  sha?: string;
  state?: string;
  context?: string;
  description?: string | null;
}
export interface CheckSuitePayload {
  action?: string;
  check_suite?: { head_sha?: string; conclusion?: string | null; app?: { name?: string } };
}

/** What a webhook did, answered as JSON (202: accepted, maybe nothing to do, `ignored` says why). */
export type { WebhookResult };

const ZERO = /^0+$/;
const OPENING = new Set(['opened', 'reopened', 'synchronize', 'ready_for_review']);
const PASSING = new Set(['success', 'neutral', 'skipped']);

const normalizeUrl = (u: string) =>
  u
    .trim()
    .replace(/\.git$/, '')
    .replace(/\/+$/, '')
    .toLowerCase();

function urlsOf(repo: Repository | null | undefined): string[] {
  if (!repo) return [];
  return [repo.clone_url, repo.git_url, repo.ssh_url, repo.html_url, repo.url].filter(
    (u): u is string => typeof u === 'string' && u !== '',
  );
}

/**
 * Whether a pull request's head lives in another repository than its base (a fork): anyone with an
 * account can open one, so its code is untrusted. A head or base that cannot be told counts as a fork.
 */
export function isFromFork(p: PullRequestPayload): boolean {
  if (p.fromFork !== undefined) return p.fromFork;
  const head = p.pull_request?.head?.repo;
  const base = p.pull_request?.base?.repo ?? p.repository;
  if (!head || !base) return true;
  if (head.full_name && base.full_name) return head.full_name.toLowerCase() !== base.full_name.toLowerCase();
  const baseUrls = new Set(urlsOf(base).map(normalizeUrl));
  return !urlsOf(head).some((u) => baseUrls.has(normalizeUrl(u)));
}

export const FORK_SKIPPED = 'skipped: pull request from a fork; enable with berth webhook --fork-prs build';

/** The project's services tracking the payload's repository (all tracking services when it names none). */
export function trackingServices(deps: PushDeps, project: Project, repo: Repository | undefined): Service[] {
  const tracking = deps.store.services.list(project.id).filter((s) => s.repoUrl);
  const urls = new Set(urlsOf(repo).map(normalizeUrl));
  if (urls.size === 0) return tracking;
  return tracking.filter((s) => urls.has(normalizeUrl(s.repoUrl as string)));
}

function present(deps: PushDeps, event: string, out: PushOutcome): WebhookResult {
  return {
    event,
    environment: out.environment.name,
    environmentCreated: out.environmentCreated,
    deployments: out.deployments.map(({ deployment, service }) => ({
      deploymentId: deployment.id,
      service: service.name,
      status: deployment.status,
      url: deps.engine.urlOf(deployment),
    })),
  };
}

/** Fetches the commit from the services' repository into the project's repo (each URL once). */
async function fetchFor(
  deps: PushDeps,
  project: Project,
  services: Service[],
  url: string | null,
  branch: string,
  sha: string,
) {
  const repo = await ensureRepo(deps.dataDir, project.name);
  const urls = url ? [url] : [...new Set(services.map((s) => s.repoUrl as string))];
  for (const u of urls) await fetchCommit(repo, u, branch, sha);
}

/**
 * push: the tracking services whose branch (repoBranch, else the repository's default branch, else
 * main) was pushed deploy to production; a branch named like an environment deploys there; other
 * branches are left to pull requests. Branch deletions are ignored (closing the PR tears down).
 */
export async function onPush(deps: PushDeps, project: Project, p: PushPayload): Promise<WebhookResult> {
  const ref = p.ref ?? '';
  if (!ref.startsWith('refs/heads/'))
    return { event: 'push', ignored: `${ref || 'the ref'} is not a branch` };
  const branch = ref.slice('refs/heads/'.length);
  const sha = p.after ?? '';
  if (p.deleted || ZERO.test(sha) || sha === '')
    return { event: 'push', ignored: `branch ${branch} was deleted` };
  const services = trackingServices(deps, project, p.repository);
  if (services.length === 0) {
    return { event: 'push', ignored: `no service of project ${project.name} tracks this repository` };
  }
  const fallback = p.repository?.default_branch ?? 'main';
  const production = services.filter((s) => (s.repoBranch ?? fallback) === branch);
  let target: Environment | null = null;
  let deploying = production;
  if (production.length > 0) target = deps.store.environments.get(project, 'production');
  else {
    const named = deps.store.environments.find(project, branch);
    if (named && named.name === branch && named.kind === 'persistent') {
      target = named;
      deploying = services;
    }
  }
  if (!target) {
    return {
      event: 'push',
      ignored: `branch ${branch} deploys nowhere: it is not a tracked branch nor an environment's name (open a pull request for a preview)`,
    };
  }
  const environment = target;
  return withBranchLock(project, branch, async () => {
    await fetchFor(deps, project, deploying, null, branch, sha);
    const out = await deployPlan(deps, project, {
      sha,
      branch,
      before: p.before ?? null,
      services: deploying,
      target: { environment },
      waitForChecks: true,
    });
    return present(deps, 'push', out);
  });
}

/** pull_request: opened/synchronized → preview `pr-<n>` deploys the head; closed → it is torn down. */
export async function onPullRequest(
  deps: PushDeps,
  project: Project,
  p: PullRequestPayload,
): Promise<WebhookResult> {
  const pr = p.pull_request;
  const number = p.number ?? pr?.number;
  const headRef = pr?.head?.ref;
  const headSha = pr?.head?.sha;
  if (!pr || !number || !headRef || !headSha) {
    return { event: 'pull_request', ignored: 'the payload has no pull request number, head ref or head sha' };
  }
  const name = previewName(String(number), 'pr-');
  const existing = deps.store.environments.find(project, name);
  if (p.action === 'closed') {
    return withBranchLock(project, headRef, async () => {
      const env = deps.store.environments.find(project, name);
      if (env?.kind !== 'preview')
        return { event: 'pull_request', deleted: null, ignored: `${name} does not exist` };
      const gone = await deps.engine.environments.delete(project, env);
      return { event: 'pull_request', deleted: gone.name };
    });
  }
  if (!OPENING.has(p.action ?? ''))
    return { event: 'pull_request', ignored: `action ${p.action} changes nothing` };
  const fromFork = isFromFork(p);
  if (fromFork && deps.store.webhookSettings.forkPrs(project.id) !== 'build') {
    return { event: 'pull_request', ignored: FORK_SKIPPED };
  }
  if (fromFork && existing && !deps.store.environments.isForkPreview(existing.id)) {
    return {
      event: 'pull_request',
      ignored: `skipped: ${name} was made for a pull request of the repository itself and holds copied variables; a fork's code is never deployed into it (delete ${name} to let the fork's preview be created)`,
    };
  }
  const services = trackingServices(deps, project, p.repository ?? pr.base?.repo ?? undefined);
  if (services.length === 0) {
    return { event: 'pull_request', ignored: `no service of project ${project.name} tracks this repository` };
  }
  const baseRef = pr.base?.ref ?? '';
  const named = deps.store.environments.find(project, baseRef);
  const previewBase =
    named && named.name === baseRef && named.kind === 'persistent'
      ? named
      : deps.store.environments.get(project, 'production');
  const headUrl = urlsOf(pr.head?.repo)[0] ?? null;
  return withBranchLock(project, headRef, async () => {
    await fetchFor(deps, project, services, headUrl, headRef, headSha);
    const out = await deployPlan(deps, project, {
      sha: headSha,
      branch: headRef,
      before: p.action === 'synchronize' ? (p.before ?? null) : null,
      services,
      target: existing && existing.kind === 'preview' ? { environment: existing } : { create: name },
      previewBase,
      waitForChecks: true,
      fromFork,
    });
    return present(deps, 'pull_request', out);
  });
}

/** status / check_suite: releases or skips the deployments waiting for that commit's checks. */
export function onCommitStatus(
  deps: PushDeps,
  project: Project,
  event: string,
  body: unknown,
): WebhookResult {
  let sha: string | undefined;
  let state: string | undefined;
  let context: string | null = null;
  let description: string | null = null;
  if (event === 'status') {
    const p = body as StatusPayload;
    ({ sha, state } = p);
    context = p.context ?? null;
    description = p.description ?? null;
  } else {
    const p = body as CheckSuitePayload;
    if (p.action !== 'completed')
      return { event, ignored: `check suite ${p.action ?? 'event'} is not a result` };
    sha = p.check_suite?.head_sha;
    const conclusion = p.check_suite?.conclusion ?? 'failure';
    state = PASSING.has(conclusion) ? 'success' : conclusion;
    context = p.check_suite?.app?.name ?? 'check suite';
  }
  if (!sha || !state) return { event, ignored: 'the payload has no sha or state' };
  const out = deps.engine.checks.commitStatus(project.id, sha, { state, context, description });
  return { event, ...out };
}
