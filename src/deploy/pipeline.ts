import fs from 'node:fs';
import path from 'node:path';
import { readBuildOverrides, withOverrides } from '../build/build-overrides.js';
import { buildApp } from '../build/index.js';
import type { BuildResult } from '../build/types.js';
import { type LoadedConfig, loadServiceConfig } from '../core/config/index.js';
import { UserError } from '../core/errors.js';
import { FailureDigest } from '../core/failure-cause.js';
import type { Deployment, ServiceConfig } from '../core/model.js';
import { type JobGroups, runOnce } from '../runtime/index.js';
import type { Store } from '../store/store.js';
import { artifactOf } from './artifact.js';
import { startingReplicas } from './autoscaler.js';
import { baseEnvironment, providedVariables, type SiteOptions, scopeOf } from './context.js';
import type { CronScheduler } from './cron.js';
import type { DeploymentLogs } from './deployment-log.js';
import { extractSource, sourceLimitsFromEnv } from './extract-source.js';
import { HealthCheckFailed } from './health.js';
import { assertOwnsHostname } from './hostname-claims.js';
import type { DataPaths } from './paths.js';
import { portVariable } from './private-network.js';
import type { Replicas } from './replicas.js';
import type { RouteSync } from './route-sync.js';
import type { SandboxUsers } from './sandbox-users.js';
import type { SharedBuilds } from './shared-builds.js';
import { buildKeyOf } from './shared-builds.js';
import { handOver, revive } from './singleton.js';
import { resolveForDeployment } from './variables.js';
import { watchSkipReason } from './watch.js';

const BUILD_TIMEOUT_MS = 20 * 60_000;
const PRE_DEPLOY_TIMEOUT_MS = 10 * 60_000;
/** Replicas one deployment may ask for unless the server is started with --max-replicas. */
export const DEFAULT_MAX_REPLICAS = 64;

/** A step failed in a way the user can act on; the message becomes the deployment's reason. */
export class DeployFailure extends Error {}

/** The deployment does not need to run (watchPatterns untouched); the message becomes the SKIPPED reason. */
export class DeploySkipped extends Error {}

export interface PipelineDeps {
  store: Store;
  logs: DeploymentLogs;
  paths: DataPaths;
  replicas: Replicas;
  routes: RouteSync;
  cron: CronScheduler;
  site: SiteOptions;
  setStatus: (id: string, status: Deployment['status'], reason: string | null) => void;
  /** The deployment's variables snapshot was (re)written: secrets to redact may have changed. */
  variablesSnapshotted: (id: string) => void;
  builds: SharedBuilds;
  /** Process groups of the build and preDeploy commands running now. */
  jobs: JobGroups;
  /** numReplicas above this fails the deployment before its build. */
  maxReplicas: number;
  /** Who builds and preDeployCommands run as (sandboxed), or as the daemon when the sandbox is off. */
  sandboxUsers: SandboxUsers;
}

/**
 * One deployment from snapshot to serving: config → build → preDeployCommand → replicas →
 * health gate → atomic routing switch → retire the previous deployment. Any failure leaves
 * the previous deployment serving and records why.
 */
export async function runPipeline(
  deps: PipelineDeps,
  deploymentId: string,
  signal: AbortSignal,
): Promise<void> {
  const { store, logs } = deps;
  let d = store.deployments.get(deploymentId);
  const scope = scopeOf(store, d, deps.site);
  const system = (msg: string, phase: 'build' | 'deploy' = 'deploy') => logs.log(d.id, phase, 'system', msg);
  const started: string[] = [];
  /** A singleton's predecessor, stopped before this deployment's replica started: revived if this one fails. */
  let stopped: Deployment | null = null;
  const handover = { store, replicas: deps.replicas, routes: deps.routes, logs };
  try {
    assertOwnsHostname(store, d, scope.hostname, deps.site.domain);
    if (d.kind === 'up' || d.kind === 'redeploy') {
      // References resolve now, before any build: a missing one fails here, naming it.
      const resolved = resolveForDeployment(store, d.serviceId, d.environmentId, deps.site);
      store.deployments.setVariables(d.id, resolved.variables, resolved.sealedNames);
      deps.variablesSnapshotted(d.id);
      d = store.deployments.get(d.id);
    }
    try {
      portVariable(d.variables);
    } catch (err) {
      throw new DeployFailure((err as Error).message);
    }
    if (!d.artifactPath) {
      deps.setStatus(d.id, 'BUILDING', null);
      await buildStep(deps, d, signal);
      d = store.deployments.get(d.id);
    } else {
      system(`Reusing the build of deployment ${d.sourceDeploymentId ?? d.id} (no rebuild)`);
    }
    const config = d.config as ServiceConfig;
    const artifact = artifactOf(d);
    deps.setStatus(d.id, 'DEPLOYING', null);
    if (d.kind === 'up' || d.kind === 'redeploy') await preDeployStep(deps, d, artifact, signal);

    const schedule = config.deploy.cronSchedule;
    if (artifact.kind === 'process' && schedule) {
      system(
        `Cron service: \`${artifact.startCommand}\` runs on "${schedule}" (UTC); no replicas run between runs`,
      );
    } else if (artifact.kind === 'process') {
      const n = startingReplicas(config.deploy, replacedReplicas(store, d));
      if (n !== config.deploy.numReplicas) {
        store.deployments.setReplicaCount(d.id, n);
        system(
          `Autoscaling: starting ${n} replica${n === 1 ? '' : 's'}, as many as the deployment this one replaces runs (deploy.numReplicas is ${config.deploy.numReplicas}), within minReplicas–maxReplicas`,
        );
      }
      // A rollback reuses a config checked under the cap of its day; the cap of today holds.
      if (n > deps.maxReplicas) {
        throw new DeployFailure(
          `deploy.numReplicas is ${n}, more than this server runs for one deployment (${deps.maxReplicas}); lower it and deploy again, or start the server with --max-replicas ${n}`,
        );
      }
      if (config.deploy.singleton && n > 1) {
        throw new DeployFailure(
          `deploy.singleton is true but deploy.numReplicas is ${n}; a singleton runs exactly one replica, so remove one of the two`,
        );
      }
      stopped = await handOver(handover, d);
      system(`Starting ${n} replica${n === 1 ? '' : 's'}`);
      for (let r = 0; r < n; r++) {
        const inst = await deps.replicas.launch(d, artifact, r);
        started.push(inst.id);
      }
      const check = config.deploy.healthcheckPath;
      system(
        check
          ? `Health check: GET ${check} on each replica until it answers 2xx (timeout ${config.deploy.healthcheckTimeout}s)`
          : 'No healthcheckPath: each replica is healthy once it accepts connections on $PORT',
      );
      await Promise.all(started.map((id) => deps.replicas.gate(d, id, signal)));
      system(`${n}/${n} replicas healthy`);
    }
    if (signal.aborted) throw signal.reason;

    const previous = store.deployments.findActiveId(d.serviceId, d.environmentId);
    store.deployments.setActive(d.serviceId, d.environmentId, d.id);
    try {
      await deps.routes.sync();
    } catch (err) {
      store.deployments.setActive(d.serviceId, d.environmentId, previous);
      throw new Error(`could not update the edge's routing table: ${(err as Error).message}`);
    }
    deps.cron.sync();
    const next = schedule ? deps.cron.nextRun(d.id) : null;
    deps.setStatus(
      d.id,
      'SUCCESS',
      schedule
        ? `Scheduled "${schedule}" (UTC); next run ${next?.toISOString() ?? 'never'}`
        : `Live at ${scope.url}`,
    );
    if (previous && previous !== d.id) {
      const old = store.deployments.get(previous);
      void deps.replicas
        .retire(old)
        .then(() => {
          const now = store.deployments.get(previous);
          if (now.status === 'SUCCESS' || now.status === 'CRASHED') {
            deps.setStatus(previous, 'REMOVED', `Replaced by deployment ${d.id}`);
          }
        })
        .catch((err) => system(`retiring deployment ${previous} failed: ${(err as Error).message}`));
    }
  } catch (err) {
    await deps.replicas.discard(started).catch(() => undefined);
    if (stopped) {
      system(`Starting deployment ${stopped.id} again, as the singleton it was`);
      await revive(handover, stopped).catch((e: Error) =>
        logs.log(d.id, 'deploy', 'system', `Deployment ${stopped?.id} could not start again: ${e.message}`, {
          level: 'error',
        }),
      );
    }
    if (err instanceof DeploySkipped && !signal.aborted) {
      logs.log(d.id, 'build', 'system', `Skipped: ${err.message}`);
      deps.setStatus(d.id, 'SKIPPED', err.message);
      return;
    }
    let reason: string;
    if (signal.aborted) reason = `cancelled: ${(signal.reason as Error)?.message ?? 'by request'}`;
    else if (err instanceof UserError || err instanceof HealthCheckFailed || err instanceof DeployFailure)
      reason = err.message;
    else reason = `internal error: ${(err as Error).message}`;
    const serving = store.deployments.findActiveId(d.serviceId, d.environmentId);
    logs.log(
      d.id,
      'deploy',
      'system',
      `Deployment failed: ${reason}${serving && serving !== d.id ? `. Deployment ${serving} keeps serving.` : ''}`,
      { level: 'error' },
    );
    deps.setStatus(d.id, 'FAILED', reason);
  }
}

async function buildStep(deps: PipelineDeps, d: Deployment, signal: AbortSignal): Promise<void> {
  const root = deps.paths.artifact(d.id);
  const appDir = path.join(root, 'app');
  const tree = path.join(root, 'source');
  fs.rmSync(root, { recursive: true, force: true });
  await extractSource(d.sourcePath, tree, sourceLimitsFromEnv());
  const rootDirectory = normalizeRootDirectory(d.source.rootDirectory);
  const serviceDir = rootDirectory ? path.join(tree, rootDirectory) : tree;
  if (rootDirectory && !isDirectoryInside(tree, serviceDir)) {
    throw new DeployFailure(
      deps.store.deployments.findGitMeta(d.id)
        ? `the root directory "${rootDirectory}" does not exist in this commit; fix the service's root directory`
        : `the root directory "${rootDirectory}" does not exist in the uploaded directory; run \`berth up\` from the repository root, or fix the service's root directory`,
    );
  }
  const environment = deps.store.environments.getById(d.environmentId);

  // Config is validated before anything is built, so bad config costs nothing. A config path is
  // relative to the repository root (Railway), otherwise the file is looked for in the root directory.
  const base =
    environment.kind === 'preview' && environment.baseEnvironmentId
      ? deps.store.environments.findById(environment.baseEnvironmentId)
      : null;
  const configPath = d.source.configPath ?? undefined;
  const loaded = loadServiceConfig(configPath ? tree : serviceDir, {
    environment: environment.name,
    previewOf: environment.kind === 'preview' ? (base?.name ?? 'production') : null,
    configPath,
    settings: deps.store.serviceSettings.of(d.serviceId, d.environmentId),
    variables: d.variables,
    maxReplicas: deps.maxReplicas,
  });
  deps.store.deployments.setConfig(d.id, recordBuildOverrides(loaded, serviceDir, d.variables));
  const log = (msg: string) => deps.logs.log(d.id, 'build', 'system', msg);
  const shownFile =
    loaded.file && !configPath && rootDirectory ? `${rootDirectory}/${loaded.file}` : loaded.file;
  log(shownFile ? `Using ${shownFile}` : 'No railway.toml/railway.json/berth.toml found; using defaults');
  for (const w of loaded.warnings) deps.logs.log(d.id, 'build', 'system', w, { level: 'warn' });

  const skip = await watchSkipReason(loaded.config.build.watchPatterns, d.source.changedFiles);
  if (skip) {
    fs.rmSync(root, { recursive: true, force: true });
    throw new DeploySkipped(skip);
  }
  fs.renameSync(serviceDir, appDir);
  fs.rmSync(tree, { recursive: true, force: true });

  const git = deps.store.deployments.findGitMeta(d.id);
  const build = async () => {
    await buildInto(deps, d, appDir, loaded.config, signal);
    deps.store.deployments.setArtifact(d.id, root);
  };
  if (!git) {
    await build();
    return;
  }
  const key = buildKeyOf(git.sha, rootDirectory, loaded.config.build);
  deps.store.deployments.setBuildKey(d.id, key);
  const reused = await deps.builds.run(key, build);
  if (reused && reused.artifactPath !== root) {
    fs.rmSync(root, { recursive: true, force: true });
    deps.store.deployments.setArtifact(d.id, reused.artifactPath);
    log(
      `Reusing the build of deployment ${reused.id} (same commit ${git.sha.slice(0, 7)}, root directory and build settings)`,
    );
  }
}

async function buildInto(
  deps: PipelineDeps,
  d: Deployment,
  appDir: string,
  config: ServiceConfig,
  signal: AbortSignal,
): Promise<void> {
  const log = (msg: string) => deps.logs.log(d.id, 'build', 'system', msg);
  const scope = scopeOf(deps.store, d, deps.site);
  const result = await buildApp({
    appDir,
    cacheDir: deps.paths.cache,
    config,
    env: { ...providedVariables(scope), ...d.variables },
    log: (line, stream) =>
      deps.logs.log(d.id, 'build', stream === 'system' ? 'system' : 'build', line, {
        level: stream === 'stderr' ? 'warn' : 'info',
      }),
    signal,
    timeoutMs: BUILD_TIMEOUT_MS,
    jobs: deps.jobs,
    sandbox: deps.sandboxUsers.forBuild(d),
  });
  for (const note of result.notes) log(note);
}

/**
 * The stored config with the commands railpack.json, nixpacks.toml and RAILPACK_* / NIXPACKS_* give (where
 * railway.toml and service settings give none), and their origins. The builder applies the same overrides
 * itself and reports a malformed file, so one is left to it here.
 */
function recordBuildOverrides(
  loaded: LoadedConfig,
  serviceDir: string,
  variables: Record<string, string>,
): LoadedConfig {
  try {
    return withOverrides(loaded, readBuildOverrides(serviceDir, variables));
  } catch {
    return loaded;
  }
}

/** "apps/api/", "/apps/api", "./apps/api" → "apps/api"; "", ".", "/" → "" (the repository root). */
export function normalizeRootDirectory(dir: string | null): string {
  if (!dir) return '';
  const clean = path.posix.normalize(dir.trim().replace(/\\/g, '/')).replace(/^\/+|\/+$/g, '');
  return clean === '.' ? '' : clean;
}

function isDirectoryInside(root: string, dir: string): boolean {
  try {
    const real = fs.realpathSync(dir);
    const top = fs.realpathSync(root);
    return (real === top || real.startsWith(top + path.sep)) && fs.statSync(real).isDirectory();
  } catch {
    return false;
  }
}

async function preDeployStep(
  deps: PipelineDeps,
  d: Deployment,
  artifact: BuildResult,
  signal: AbortSignal,
): Promise<void> {
  const commands = (d.config as ServiceConfig).deploy.preDeployCommand;
  if (commands.length === 0) return;
  const scope = scopeOf(deps.store, d, deps.site);
  const env = { ...baseEnvironment(), ...providedVariables(scope), ...artifact.runtimeEnv, ...d.variables };
  for (const command of commands) {
    deps.logs.log(d.id, 'deploy', 'system', `Running preDeployCommand: ${command}`);
    const digest = new FailureDigest();
    const res = await runOnce({
      command,
      cwd: path.join(d.artifactPath as string, 'app'),
      env,
      timeoutMs: PRE_DEPLOY_TIMEOUT_MS,
      signal,
      jobs: deps.jobs,
      sandbox: deps.sandboxUsers.forRuntime(d, artifact, true),
      onLine: (line, stream) => {
        digest.add(line);
        deps.logs.log(d.id, 'deploy', stream, line);
      },
    });
    if (signal.aborted) throw signal.reason;
    if (res.timedOut) {
      throw new DeployFailure(
        `preDeployCommand did not finish within ${PRE_DEPLOY_TIMEOUT_MS / 1000}s and was stopped`,
      );
    }
    if (res.code !== 0) {
      const tail = digest.summary();
      const how = res.code === null ? `was killed by ${res.signal}` : `exited ${res.code}`;
      throw new DeployFailure(`preDeployCommand ${how}${tail ? `: ${tail}` : ''}`);
    }
  }
}

/** How many replicas the service's active deployment in this environment runs (not d; null when none does). */
function replacedReplicas(store: Store, d: Deployment): number | null {
  const id = store.deployments.findActiveId(d.serviceId, d.environmentId);
  if (!id || id === d.id) return null;
  const deploy = store.deployments.get(id).config?.deploy;
  return deploy && !deploy.cronSchedule ? deploy.numReplicas : null;
}
