import fs from 'node:fs';
import path from 'node:path';
import { evictUnused } from '../build/cache.js';
import { readArtifact } from '../build/index.js';
import { type Deployment, TERMINAL_STATUSES } from '../core/model.js';
import type { Store } from '../store/store.js';
import type { DataPaths } from './paths.js';

/**
 * Keeps a service's disk use bounded: the newest `keep` deployments (and the active one, and any
 * still running) keep their build artifact and source snapshot; older ones lose both. A file shared
 * with a kept deployment (a rollback reuses its target's artifact, a redeploy its source) stays.
 * Rows and logs stay, so history remains readable; rolling back to a pruned build says so. With `paths`,
 * their replicas' raw output files go too (their lines are in the deployment log already).
 */
export function pruneDeployments(
  store: Store,
  serviceId: string,
  environmentId: string,
  keep: number,
  paths?: DataPaths,
): { removed: string[] } {
  const all = store.deployments.list(serviceId, environmentId, 100_000);
  const active = store.deployments.findActiveId(serviceId, environmentId);
  const kept = all.filter((d, i) => i < keep || d.id === active || !TERMINAL_STATUSES.has(d.status));
  const keptIds = new Set(kept.map((d) => d.id));
  const inUse = new Set(kept.flatMap((d) => [d.artifactPath, d.sourcePath]).filter(Boolean));
  const dropped = all.filter((d) => !keptIds.has(d.id));
  const candidates = dropped.flatMap((d) => [d.artifactPath, d.sourcePath]).filter((p): p is string => !!p);
  const usedElsewhere = store.deployments.pathsStillUsed(candidates, new Set(dropped.map((d) => d.id)));
  const removed: string[] = [];
  for (const d of dropped) {
    for (const p of [d.artifactPath, d.sourcePath]) {
      if (!p || inUse.has(p) || usedElsewhere.has(p) || !fs.existsSync(p)) continue;
      fs.rmSync(p, { recursive: true, force: true });
      removed.push(p);
    }
    for (const inst of paths ? store.workloads.ofDeployment(d.id) : []) {
      for (const stream of ['stdout', 'stderr'] as const) {
        const file = (paths as DataPaths).instanceOutput(inst.id, stream);
        if (!fs.existsSync(file)) continue;
        fs.rmSync(file, { force: true });
        removed.push(file);
      }
    }
  }
  return { removed };
}

/**
 * Removes the tree a build left behind when it never finished (the deployment FAILED, cancelled included,
 * before an artifact was recorded): extracted sources and half-installed dependencies nothing can run or
 * roll back to, and which pruneDeployments never sees (it prunes recorded artifacts). A tree another
 * deployment records as its artifact stays. The log stays. Returns the removed paths.
 */
export function removeFailedBuilds(store: Store, paths: DataPaths, deployments: Deployment[]): string[] {
  const removed: string[] = [];
  for (const d of deployments) {
    if (d.status !== 'FAILED' || d.artifactPath) continue;
    const dir = paths.artifact(d.id);
    if (!fs.existsSync(dir) || store.deployments.pathsStillUsed([dir], new Set([d.id])).size > 0) continue;
    fs.rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

/**
 * Keeps the dependency cache bounded: installs, package managers and Node runtimes not used by a build for
 * `unusedForMs` go (every lockfile change adds an install), except those a kept build runs from. Returns the
 * removed paths.
 */
export async function pruneDependencyCache(paths: DataPaths, unusedForMs: number): Promise<string[]> {
  const { venvs, binDirs } = runtimeDirsOfArtifacts(paths.artifacts);
  return evictUnused(paths.cache, { unusedForMs, venvsInUse: venvs, binDirsInUse: binDirs });
}

/**
 * What the builds on disk run from: their virtualenv (VIRTUAL_ENV) and the PATH entries of their artifact.json
 * (downloaded package managers and Node runtimes).
 */
function runtimeDirsOfArtifacts(artifactsDir: string): { venvs: Set<string>; binDirs: Set<string> } {
  const venvs = new Set<string>();
  const binDirs = new Set<string>();
  let names: string[];
  try {
    names = fs.readdirSync(artifactsDir);
  } catch {
    return { venvs, binDirs };
  }
  for (const name of names) {
    try {
      const env = readArtifact(path.join(artifactsDir, name)).runtimeEnv;
      if (env.VIRTUAL_ENV) venvs.add(env.VIRTUAL_ENV);
      for (const dir of (env.PATH ?? '').split(path.delimiter)) if (dir) binDirs.add(dir);
    } catch {
      // No artifact.json: a build still running (what it uses was just touched) or one that failed.
    }
  }
  return { venvs, binDirs };
}
