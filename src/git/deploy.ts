import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { UserError } from '../core/errors.js';
import type { Deployment, Environment, Project, Service } from '../core/model.js';
import type { DeployEngine } from '../deploy/engine.js';
import type { DeletedEnvironment } from '../deploy/environments.js';
import { KeyedLock } from '../lib/keyed-lock.js';
import type { Store } from '../store/store.js';
import { targetForBranch } from './branches.js';
import { type GitMeta, writeGitMeta } from './meta.js';
import { git, repoPath } from './repo.js';

const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;
const ZERO = /^0+$/;
/** Two pushes of one branch deploy in the order they arrived (and create its preview only once). */
const branchLocks = new KeyedLock();

/**
 * The services a push deploys: the project's only service, else the service named like the project,
 * else a new service named after the project.
 */
export function servicesForPush(store: Store, project: Project): Service[] {
  const services = store.listServices(project.id);
  if (services.length === 1) return services;
  return [store.findService(project, project.name) ?? store.createService(project, project.name)];
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

interface PushDeps {
  store: Store;
  engine: DeployEngine;
  dataDir: string;
}

/**
 * Deploys a pushed commit of the project's bare repo to the environment its branch maps to
 * (creating the branch's preview environment, copied from production, on its first push).
 */
export function deployPush(deps: PushDeps, project: Project, req: PushRequest): Promise<PushOutcome> {
  if (!SHA.test(req.sha)) throw new UserError(`"${req.sha}" is not a full commit sha.`);
  return branchLocks.run(`${project.id}:${req.branch}`, () => deployLocked(deps, project, req));
}

async function deployLocked(deps: PushDeps, project: Project, req: PushRequest): Promise<PushOutcome> {
  const { store, engine } = deps;
  const repo = repoPath(deps.dataDir, project.name);
  if (!fs.existsSync(repo)) throw new UserError(`Project "${project.name}" has no git repository yet.`);
  const meta = await commitMeta(repo, req.sha, req.branch);
  const services = servicesForPush(store, project);
  const target = targetForBranch(store, project, req.branch);
  let environment: Environment;
  let environmentCreated = false;
  if ('environment' in target) environment = target.environment;
  else {
    const created = await engine.environments.create(project, target.create, {
      duplicate: store.getEnvironment(project, 'production'),
      kind: 'preview',
      branch: req.branch,
      deployServices: false,
    });
    environment = created.environment;
    environmentCreated = true;
  }
  const subject = meta.message.split('\n')[0] || `git ${meta.sha.slice(0, 7)}`;
  const deployments: PushOutcome['deployments'] = [];
  for (const service of services) {
    const tmp = path.join(os.tmpdir(), `berth-git-${randomUUID()}.tar.gz`);
    try {
      await archive(repo, meta.sha, tmp);
      const deployment = engine.deployUpload(service, environment, tmp, subject);
      // Written before the queued run starts (it starts on a later tick), so the build sees it.
      writeGitMeta(store.db, deployment.id, meta);
      deployments.push({ deployment, service });
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }
  return { environment, environmentCreated, deployments };
}

/** A branch was deleted: its preview environment (if it has one) is torn down. */
export async function branchDeleted(
  deps: PushDeps,
  project: Project,
  branch: string,
): Promise<DeletedEnvironment | null> {
  return branchLocks.run(`${project.id}:${branch}`, async () => {
    const preview = deps.store.previewForBranch(project, branch);
    return preview ? deps.engine.environments.delete(project, preview) : null;
  });
}

export const isZeroSha = (sha: string) => ZERO.test(sha);
