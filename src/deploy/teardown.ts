/**
 * Deleting a service or a project: one function per entity, each stopping what runs, then removing rows, then
 * files nothing else uses. Service kinds with more to remove (a data service's volume) attach ServiceHooks.
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { Environment, Project, Service } from '../core/model.js';
import type { EdgeDriver } from '../edge/driver.js';
import type { Store } from '../store/store.js';
import { deploymentLogFiles } from './deployment-log.js';
import type { Environments } from './environments.js';
import type { DataPaths } from './paths.js';
import { SANDBOX_UID_BASE } from './sandbox-users.js';

/** What a service hook learns about a service being deleted. */
export interface ServiceDeleteEvent {
  project: Project;
  service: Service;
  environments: Environment[];
  /** The user passed --delete-data: data kept outside deployments (a volume) may go too. */
  deleteData: boolean;
  /** The user passed --skip-final-backup: a data service goes without its final backup. */
  skipFinalBackup: boolean;
  /** Sentences hooks add for the answer (a final backup taken, where a kept volume stays). */
  notes: string[];
}

/**
 * Extension point for what a kind of service owns beyond deployments. `check` runs before anything stops and
 * refuses by throwing a UserError; `beforeStop` runs next, with everything still running, and may refuse too; `deleting` runs after its processes stopped and
 * before its rows go (a final backup, the volume); `deleted` after rows and files are gone (failures logged).
 */
export interface ServiceHooks {
  name: string;
  check?(event: ServiceDeleteEvent): void;
  /** Runs while everything still runs (a final backup needs the database up); may refuse by throwing. */
  beforeStop?(event: ServiceDeleteEvent): Promise<void> | void;
  deleting?(event: ServiceDeleteEvent): Promise<void> | void;
  deleted?(event: ServiceDeleteEvent): Promise<void> | void;
}

/** What deleting needs of the deploy engine (which passes itself, so this module does not import engine.ts). */
export interface TeardownDeployer {
  stopService(service: Service): Promise<void>;
  forget(scopeId: string): void;
  removeHttpLogs(project: Project, environment: Environment, services: Service[]): Promise<void>;
  /** The generated and custom host names of a service in an environment (their certificates go with it). */
  hostnamesOf(service: Service, environment: Environment): string[];
  syncRoutes(): Promise<void>;
}

export interface DeletedService {
  name: string;
  deployments: number;
  /** Source snapshots, build artifacts, log files and sandbox directories removed. */
  filesRemoved: number;
  /** What service hooks did or left (a final backup, a kept volume), one sentence each. */
  notes: string[];
}

export interface DeletedProject {
  name: string;
  services: string[];
  environments: string[];
  deployments: number;
  filesRemoved: number;
  notes: string[];
}

export interface DeleteOptions {
  deleteData?: boolean;
  skipFinalBackup?: boolean;
}

export class Teardown {
  private readonly hooks: ServiceHooks[] = [];

  constructor(
    private readonly deps: {
      store: Store;
      engine: TeardownDeployer;
      environments: Environments;
      paths: DataPaths;
      logger: Logger;
    },
  ) {}

  addServiceHooks(hooks: ServiceHooks): void {
    this.hooks.push(hooks);
  }

  private eventOf(project: Project, service: Service, opts: DeleteOptions): ServiceDeleteEvent {
    return {
      project,
      service,
      environments: this.deps.store.environments.list(project.id),
      deleteData: opts.deleteData ?? false,
      skipFinalBackup: opts.skipFinalBackup ?? false,
      notes: [],
    };
  }

  /** Every replica, route, domain, certificate, artifact, source, log and sandbox directory of the service. */
  async deleteService(project: Project, service: Service, opts: DeleteOptions = {}): Promise<DeletedService> {
    const event = this.eventOf(project, service, opts);
    for (const h of this.hooks) h.check?.(event);
    for (const h of this.hooks) await h.beforeStop?.(event);
    return this.removeService(event);
  }

  private async removeService(event: ServiceDeleteEvent): Promise<DeletedService> {
    const { store, engine, paths, logger } = this.deps;
    const { project, service, environments } = event;
    const hostnames = environments.flatMap((e) => engine.hostnamesOf(service, e));
    await engine.stopService(service);
    for (const h of this.hooks) await h.deleting?.(event);

    const deployments = store.deployments.ofService(service.id);
    const ids = new Set(deployments.map((d) => d.id));
    const instanceIds = deployments.flatMap((d) => store.workloads.ofDeployment(d.id).map((w) => w.id));
    // A build another service's deployment reuses (shared builds, shared sources) stays.
    const shared = deployments
      .flatMap((d) => [d.sourcePath, d.artifactPath, paths.artifact(d.id)])
      .filter((p): p is string => !!p);
    const keep = store.deployments.pathsStillUsed(shared, ids);
    const uids = store.sandboxUsers.seqsOf(service.id).map((seq) => SANDBOX_UID_BASE + seq);
    store.transaction(() => {
      store.deleteServiceRows(service.id);
      for (const h of hostnames) store.certificates.delete(h);
    });
    engine.forget(service.id);
    // The edge's table, certificate files and the hosts file follow the rows.
    await engine.syncRoutes();
    for (const env of environments) await engine.removeHttpLogs(project, env, [service]);

    const files = [
      ...shared.filter((p) => !keep.has(p)),
      ...deployments.flatMap((d) => deploymentLogFiles(paths.deploymentLog(d.id))),
      ...instanceIds.flatMap((i) => [paths.instanceOutput(i, 'stdout'), paths.instanceOutput(i, 'stderr')]),
      ...uids.flatMap((uid) => [paths.sandboxUser(uid), paths.sandboxAccounts(uid)]),
    ];
    const filesRemoved = removeAll(files);
    for (const h of this.hooks) {
      try {
        await h.deleted?.(event);
      } catch (err) {
        logger.warn({ err, hook: h.name, service: service.name }, 'service deleted hook failed');
      }
    }
    logger.info({ project: project.name, service: service.name, filesRemoved }, 'service deleted');
    return { name: service.name, deployments: deployments.length, filesRemoved, notes: event.notes };
  }

  /**
   * Every service (as deleteService), every environment (as an environment's deletion) and the project's own
   * rows (tokens, webhook settings). `extraFiles` are the project's files outside the deploy engine (its git repo).
   */
  async deleteProject(
    project: Project,
    opts: DeleteOptions & { extraFiles?: string[] } = {},
  ): Promise<DeletedProject> {
    const { store, environments, logger } = this.deps;
    const services = store.services.list(project.id);
    const events = services.map((s) => this.eventOf(project, s, opts));
    // Every service's hooks agree before anything stops: a refusal leaves the whole project as it was.
    for (const e of events) for (const h of this.hooks) h.check?.(e);
    for (const e of events) for (const h of this.hooks) await h.beforeStop?.(e);
    let deployments = 0;
    let filesRemoved = 0;
    for (const e of events) {
      const gone = await this.removeService(e);
      deployments += gone.deployments;
      filesRemoved += gone.filesRemoved;
    }
    const envs = store.environments.list(project.id);
    // Previews and other environments first, production (their base) last.
    const ordered = [
      ...envs.filter((e) => e.name !== 'production'),
      ...envs.filter((e) => e.name === 'production'),
    ];
    for (const env of ordered) {
      const gone = await environments.delete(project, env, { withProject: true });
      deployments += gone.deployments;
      filesRemoved += gone.filesRemoved;
    }
    store.projects.delete(project.id);
    filesRemoved += removeAll(opts.extraFiles ?? []);
    logger.info({ project: project.name, filesRemoved }, 'project deleted');
    return {
      name: project.name,
      services: services.map((s) => s.name),
      environments: envs.map((e) => e.name),
      deployments,
      filesRemoved,
      notes: events.flatMap((e) => e.notes),
    };
  }
}

/** Removes what exists of these paths; returns how many there were. */
function removeAll(files: string[]): number {
  let removed = 0;
  for (const f of new Set(files)) {
    if (!fs.existsSync(f)) continue;
    fs.rmSync(f, { recursive: true, force: true });
    removed++;
  }
  return removed;
}

/** Deletes the edge's access logs of these services in a deleted environment (failures are logged). */
export async function removeHttpLogs(
  edge: EdgeDriver,
  logger: Logger,
  project: Project,
  environment: Environment,
  services: Service[],
): Promise<void> {
  for (const s of services) {
    await edge
      .removeHttpLogs({
        project: project.name,
        environment: environment.name,
        service: s.name,
        serviceId: s.id,
        environmentId: environment.id,
      })
      .catch((err: Error) => logger.warn(`could not delete the access log of ${s.name}: ${err.message}`));
  }
}
