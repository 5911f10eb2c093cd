import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { UserError } from '../core/errors.js';
import type { Deployment, Project, Service } from '../core/model.js';
import type { DeployEngine } from '../deploy/engine.js';
import type { Store } from '../store/store.js';
import { type GitMeta, writeGitMeta } from './meta.js';
import { git, repoPath } from './repo.js';

/** Branches that deploy to production; other branches will get preview environments later. */
export const PRODUCTION_BRANCHES = new Set(['main', 'master']);
const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/**
 * The service a push deploys: the project's only service, else the service named like the project,
 * else a new service named after the project.
 */
export function serviceForPush(store: Store, project: Project): Service {
  const services = store.listServices(project.id);
  if (services.length === 1) return services[0];
  return store.findService(project, project.name) ?? store.createService(project, project.name);
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

/** Deploys a pushed commit of the project's bare repo to production. */
export async function deployCommit(
  deps: { store: Store; engine: DeployEngine; dataDir: string },
  project: Project,
  sha: string,
  branch: string,
): Promise<{ deployment: Deployment; service: Service }> {
  const { store, engine } = deps;
  if (!SHA.test(sha)) throw new UserError(`"${sha}" is not a full commit sha.`);
  if (!PRODUCTION_BRANCHES.has(branch)) {
    throw new UserError(`Only main and master deploy for now; "${branch}" was stored but not deployed.`);
  }
  const repo = repoPath(deps.dataDir, project.name);
  if (!fs.existsSync(repo)) throw new UserError(`Project "${project.name}" has no git repository yet.`);
  const meta = await commitMeta(repo, sha, branch);
  const environment = store.getEnvironment(project, 'production');
  const service = serviceForPush(store, project);
  const tmp = path.join(os.tmpdir(), `berth-git-${randomUUID()}.tar.gz`);
  try {
    await archive(repo, meta.sha, tmp);
    const subject = meta.message.split('\n')[0] ?? '';
    const deployment = engine.deployUpload(
      service,
      environment,
      tmp,
      subject || `git ${meta.sha.slice(0, 7)}`,
    );
    // Written before the queued run starts (it starts on a later tick), so the build sees it.
    writeGitMeta(store.db, deployment.id, meta);
    return { deployment, service };
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}
