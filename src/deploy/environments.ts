import fs from 'node:fs';
import type { Logger } from 'pino';
import { UserError } from '../core/errors.js';
import type { Deployment, Environment, Project, Service } from '../core/model.js';
import type { Store } from '../store/store.js';
import { deploymentLogFiles } from './deployment-log.js';
import type { EnvironmentEvent, EnvironmentHooks } from './environment-hooks.js';
import type { DataPaths } from './paths.js';

export interface CreateEnvironmentOptions {
  /** Copy this environment's variables (not sealed ones) and deploy its services. */
  duplicate?: Environment | null;
  kind?: Environment['kind'];
  branch?: string | null;
  /** Deploy the copied services (default true when duplicating). Previews deploy the pushed commit instead. */
  deployServices?: boolean;
  /**
   * Copy `duplicate`'s variables and show it to the hooks as the base (default true). False for a fork's
   * pull request: its code must not see anything of the environment it previews, only its config overlays.
   */
  copyFromBase?: boolean;
}

/**
 * What environments need of the deploy engine, which passes itself: declared here so this module does not
 * import engine.ts, which constructs it.
 */
export interface EnvironmentDeployer {
  redeployBatch(env: Environment, services: Service[], from?: Environment): Deployment[];
  stopEnvironment(env: Environment): Promise<void>;
  forget(scopeId: string): void;
  removeHttpLogs(project: Project, environment: Environment, services: Service[]): Promise<void>;
}

export interface DeletedEnvironment {
  name: string;
  deployments: number;
  /** Source snapshots, build artifacts and log files removed. */
  filesRemoved: number;
  /** What hooks did or left (a database's final backup, its kept volume). */
  notes: string[];
}

/**
 * Creation and teardown of environments, and the hooks other subsystems attach to them. Teardown
 * stops what runs first (in-flight deployments cancelled, replicas killed, routes gone), then deletes
 * rows, then files no other environment still uses.
 */
export class Environments {
  private readonly hooks: EnvironmentHooks[] = [];

  constructor(
    private readonly deps: { store: Store; engine: EnvironmentDeployer; paths: DataPaths; logger: Logger },
  ) {}

  addHooks(hooks: EnvironmentHooks): void {
    this.hooks.push(hooks);
  }

  async create(
    project: Project,
    name: string,
    opts: CreateEnvironmentOptions = {},
  ): Promise<{ environment: Environment; deployments: Deployment[] }> {
    const { store, engine } = this.deps;
    const from = opts.duplicate ?? null;
    const environment = store.environments.create(project, name, {
      kind: opts.kind,
      branch: opts.branch,
      base: from,
    });
    const copy = opts.copyFromBase ?? true;
    if (from && copy) store.variables.copy(from.id, environment.id);
    // Settings hold no secrets: even a fork's preview builds and starts like its base.
    if (from) store.serviceSettings.copy(from.id, environment.id);
    const event: EnvironmentEvent = { project, environment, base: copy ? from : null };
    for (const h of this.hooks) {
      try {
        await h.created?.(event);
      } catch (err) {
        store.deleteEnvironmentRows(environment.id);
        throw new UserError(
          `Environment "${name}" was not created because the ${h.name} hook failed: ${(err as Error).message}.`,
        );
      }
    }
    const deployments =
      from && (opts.deployServices ?? true)
        ? engine.redeployBatch(environment, store.services.list(project.id), from)
        : [];
    return { environment, deployments };
  }

  /** withProject: the project goes too (deploy/teardown.ts), so production may go. */
  async delete(
    project: Project,
    environment: Environment,
    opts: { withProject?: boolean; skipFinalBackup?: boolean } = {},
  ): Promise<DeletedEnvironment> {
    const { store, engine, paths, logger } = this.deps;
    if (environment.name === 'production' && !opts.withProject) {
      throw new UserError(
        `Environment "production" of project "${project.name}" cannot be deleted; delete other environments, or the project.`,
        { status: 409, code: 'conflict' },
      );
    }
    const base = environment.baseEnvironmentId ? safeEnvironment(store, environment.baseEnvironmentId) : null;
    const notes: string[] = [];
    const event = { project, environment, base, skipFinalBackup: opts.skipFinalBackup ?? false, notes };
    for (const h of this.hooks) await h.deleting?.(event);
    await engine.stopEnvironment(environment);
    const deployments = store.deployments.ofEnvironment(environment.id);
    const ids = new Set(deployments.map((d) => d.id));
    const instanceIds = deployments.flatMap((d) => store.workloads.ofDeployment(d.id).map((i) => i.id));
    const shared = deployments.flatMap((d) => [d.sourcePath, d.artifactPath]).filter((p): p is string => !!p);
    const keep = store.deployments.pathsStillUsed(shared, ids);
    store.deleteEnvironmentRows(environment.id);
    engine.forget(environment.id);
    await engine.removeHttpLogs(project, environment, store.services.list(project.id));

    const files = [
      ...shared.filter((p) => !keep.has(p)),
      ...deployments.flatMap((d) => deploymentLogFiles(paths.deploymentLog(d.id))),
      ...instanceIds.flatMap((i) => [paths.instanceOutput(i, 'stdout'), paths.instanceOutput(i, 'stderr')]),
    ];
    let filesRemoved = 0;
    for (const f of new Set(files)) {
      if (!fs.existsSync(f)) continue;
      fs.rmSync(f, { recursive: true, force: true });
      filesRemoved++;
    }
    for (const h of this.hooks) {
      try {
        await h.deleted?.(event);
      } catch (err) {
        logger.warn({ err, hook: h.name, environment: environment.name }, 'environment deleted hook failed');
      }
    }
    logger.info(
      { project: project.name, environment: environment.name, filesRemoved },
      'environment deleted',
    );
    return { name: environment.name, deployments: deployments.length, filesRemoved, notes };
  }
}

function safeEnvironment(store: Store, id: string): Environment | null {
  try {
    return store.environments.getById(id);
  } catch {
    return null;
  }
}
