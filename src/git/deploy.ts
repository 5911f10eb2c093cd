import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { UserError } from '../core/errors.js';
import type { Deployment, Environment, GitMeta, Project, Service } from '../core/model.js';
import type { DeployEngine } from '../deploy/engine.js';
import type { DeletedEnvironment } from '../deploy/environments.js';
import { KeyedLock } from '../lib/keyed-lock.js';
import type { Store } from '../store/store.js';
import { type BranchTarget, targetForBranch } from './branches.js';
import { git, repoPath } from './repo.js';

const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;
const ZERO = /^0+$/;
/** Two pushes of one branch deploy in the order they arrived (and create its preview only once). */
const branchLocks = new KeyedLock();

/**
 * The services a push deploys: every service with a root directory or config path set (a monorepo),
 * else the project's only service, else the service named like the project, else a new service named
 * after the project.
 */
export function servicesForPush(store: Store, project: Project): Service[] {
  const services = store.services.list(project.id);
  const placed = services.filter((s) => s.rootDirectory !== null || s.configPath !== null);
  if (placed.length > 0) return placed;
  if (services.length === 1) return services;
  return [store.services.find(project, project.name) ?? store.services.create(project, project.name)];
}

/** `git archive --format=tar.gz <sha>` into a temp file (argument array, cwd = the bare repo). */
async function archive(repo: string, sha: string, file: string): Promise<void> {
  const child = spawn('git', ['archive', '--format=tar.gz', sha], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  try {
    await pipeline(child.stdout, fs.createWriteStream(file));
    const code = await exited;
    if (code !== 0) throw new UserError(`git archive ${sha} failed: ${stderr.trim()}`);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Repo-relative paths that differ between the branch's previous commit and the pushed one (both sides
 * of a rename); null when there is no previous commit to compare with (a new branch).
 */
export async function changedBetween(
  repo: string,
  before: string | null,
  sha: string,
): Promise<string[] | null> {
  if (!before || ZERO.test(before) || !SHA.test(before)) return null;
  try {
    await git(['cat-file', '-e', `${before}^{commit}`], repo);
  } catch {
    return null;
  }
  const out = await git(['diff', '--name-only', '--no-renames', '-z', before, sha], repo);
  return out.split('\0').filter((f) => f !== '');
}

export async function commitMeta(repo: string, sha: string, branch: string): Promise<GitMeta> {
  const out = await git(['log', '-1', '--format=%H%x00%an%x00%B', sha], repo);
  const [full, author, message] = out.split('\0');
  return { sha: full.trim(), branch, author: author ?? '', message: (message ?? '').trim() };
}

export interface PushRequest {
  sha: string;
  branch: string;
  /** The branch's previous commit (to know which files changed), or null for a new branch. */
  before?: string | null;
}

export interface PushOutcome {
  environment: Environment;
  /** A preview environment was made for this branch by this push. */
  environmentCreated: boolean;
  deployments: { deployment: Deployment; service: Service }[];
}

export interface PushDeps {
  store: Store;
  engine: DeployEngine;
  dataDir: string;
}

/** What to deploy where: a commit already in the project's repository, to some services, to a target. */
export interface DeployPlan {
  sha: string;
  branch: string;
  before?: string | null;
  services: Service[];
  target: BranchTarget;
  /** The environment a new preview copies (default production). */
  previewBase?: Environment;
  /** Honour the services' "wait for checks" setting (webhook deployments). */
  waitForChecks?: boolean;
  /** Code from a fork: a new preview copies no variables of `previewBase` and is marked as the fork's. */
  fromFork?: boolean;
}

/**
 * Deploys a pushed commit of the project's bare repo to the environment its branch maps to
 * (creating the branch's preview environment, copied from production, on its first push).
 */
export function deployPush(deps: PushDeps, project: Project, req: PushRequest): Promise<PushOutcome> {
  if (!SHA.test(req.sha)) throw new UserError(`"${req.sha}" is not a full commit sha.`);
  return withBranchLock(project, req.branch, () =>
    deployPlan(deps, project, {
      ...req,
      services: servicesForPush(deps.store, project),
      target: targetForBranch(deps.store, project, req.branch),
    }),
  );
}

/**
 * The push that created this branch's preview was rejected (its hook saw every deployment fail): the
 * preview holds nothing, so it goes, unless something else was deployed or queued to it meanwhile. The
 * hook asks only once it has shown the pusher why, since deleting takes the deployments' logs along.
 */
export async function pushRejected(
  deps: PushDeps,
  project: Project,
  branch: string,
  environment: string,
): Promise<DeletedEnvironment | null> {
  return withBranchLock(project, branch, async () => {
    const env = deps.store.environments.find(project, environment);
    if (env?.kind !== 'preview' || env.branch !== branch) return null;
    const all = deps.store.deployments.ofEnvironment(env.id);
    if (all.length === 0 || all.some((d) => d.status !== 'FAILED')) return null;
    return deps.engine.environments.delete(project, env);
  });
}

/** Work on one branch of a project (deploying it, deleting its preview), one task at a time, in order. */
export function withBranchLock<T>(project: Project, branch: string, task: () => Promise<T>): Promise<T> {
  return branchLocks.run(`${project.id}:${branch}`, task);
}

/** Deploys a commit of the project's repository (call it under the branch's lock). */
export async function deployPlan(deps: PushDeps, project: Project, plan: DeployPlan): Promise<PushOutcome> {
  const { store, engine } = deps;
  const repo = repoPath(deps.dataDir, project.name);
  if (!fs.existsSync(repo)) throw new UserError(`Project "${project.name}" has no git repository yet.`);
  const meta = await commitMeta(repo, plan.sha, plan.branch);
  const { target } = plan;
  let environment: Environment;
  let environmentCreated = false;
  if ('environment' in target) environment = target.environment;
  else {
    const created = await engine.environments.create(project, target.create, {
      duplicate: plan.previewBase ?? store.environments.get(project, 'production'),
      kind: 'preview',
      branch: plan.branch,
      deployServices: false,
      copyFromBase: !plan.fromFork,
    });
    if (plan.fromFork) store.environments.markForkPreview(created.environment.id);
    environment = created.environment;
    environmentCreated = true;
  }
  const deployments: PushOutcome['deployments'] = [];
  try {
    await deployCommit(deps, plan, repo, meta, environment, deployments);
  } catch (err) {
    // A preview made for this push, refused before anything was deployed to it, goes again.
    if (environmentCreated && deployments.length === 0) {
      await engine.environments.delete(project, environment).catch(() => undefined);
    }
    throw err;
  }
  return { environment, environmentCreated, deployments };
}

/** The commit's snapshot, one deployment per service (pushed onto `deployments` as they are created). */
async function deployCommit(
  deps: PushDeps,
  plan: DeployPlan,
  repo: string,
  meta: GitMeta,
  environment: Environment,
  deployments: PushOutcome['deployments'],
): Promise<void> {
  const { store, engine } = deps;
  const { services } = plan;
  const subject = meta.message.split('\n')[0] || `git ${meta.sha.slice(0, 7)}`;
  const changedFiles = await changedBetween(repo, plan.before ?? null, meta.sha);
  // One snapshot of the whole commit; each service finds its root directory and config path in it.
  const snapshot = path.join(os.tmpdir(), `berth-git-${randomUUID()}.tar.gz`);
  try {
    await archive(repo, meta.sha, snapshot);
    for (const service of services) {
      const tmp = `${snapshot}.${service.id}`;
      fs.copyFileSync(snapshot, tmp);
      try {
        const deployment = engine.deployUpload(service, environment, tmp, subject, {
          prepare: (d) => {
            store.deployments.setGitMeta(d.id, meta);
            store.deployments.setSource(d.id, {
              rootDirectory: service.rootDirectory,
              configPath: service.configPath,
              changedFiles,
            });
          },
          waitForChecks: (plan.waitForChecks ?? false) && service.waitForChecks,
        });
        deployments.push({ deployment, service });
      } finally {
        fs.rmSync(tmp, { force: true });
      }
    }
  } finally {
    fs.rmSync(snapshot, { force: true });
  }
}

/** A branch was deleted: its preview environment (if it has one) is torn down. */
export async function branchDeleted(
  deps: PushDeps,
  project: Project,
  branch: string,
): Promise<DeletedEnvironment | null> {
  return withBranchLock(project, branch, async () => {
    const preview = deps.store.environments.findPreview(project, branch);
    return preview ? deps.engine.environments.delete(project, preview) : null;
  });
}

export const isZeroSha = (sha: string) => ZERO.test(sha);
