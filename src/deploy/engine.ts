import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { UserError } from '../core/errors.js';
import type { Deployment, DeploymentStatus, Environment, Service } from '../core/model.js';
import { TERMINAL_STATUSES } from '../core/model.js';
import { deployOrder } from '../core/variables/index.js';
import type { EdgeDriver } from '../edge/driver.js';
import type { ProcessDriver } from '../runtime/index.js';
import type { Store } from '../store/store.js';
import { type SiteOptions, scopeOf, siteOf } from './context.js';
import { CronScheduler } from './cron.js';
import type { DeploymentLogs } from './deployment-log.js';
import type { DataPaths } from './paths.js';
import { runPipeline } from './pipeline.js';
import { Replicas } from './replicas.js';
import { pruneDeployments } from './retention.js';
import { RouteSync } from './route-sync.js';
import { dependenciesOf, redactorFor, resolveForDeployment } from './variables.js';

export interface EngineDeps {
  store: Store;
  logs: DeploymentLogs;
  driver: ProcessDriver;
  edge: EdgeDriver;
  paths: DataPaths;
  site: SiteOptions;
  logger: Logger;
  /** Deployments per service and environment whose builds and sources are kept on disk. */
  keepDeployments: number;
}

/**
 * The reconciler: turns recorded intent (deployments, variables) into running replicas and a
 * routing table. Deployments of one service run one at a time, in order; every status change
 * is stored before the next step acts on it.
 */
export class DeployEngine {
  readonly routes: RouteSync;
  readonly replicas: Replicas;
  readonly cron: CronScheduler;
  private readonly queues = new Map<string, Promise<void>>();
  /** Settles when a deployment's run ends; batch members wait on the services they reference. */
  private readonly finished = new Map<string, Promise<void>>();
  private readonly redactors = new Map<string, (text: string) => string>();
  private readonly inFlight = new Map<string, AbortController>();
  private offsetTimer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: EngineDeps) {
    this.routes = new RouteSync(deps.store, deps.edge, deps.site);
    this.replicas = new Replicas({
      store: deps.store,
      logs: deps.logs,
      driver: deps.driver,
      paths: deps.paths,
      routes: this.routes,
      edge: deps.edge,
      site: deps.site,
      onCrashed: (id, reason) => this.setStatus(id, 'CRASHED', reason),
    });
    this.cron = new CronScheduler(deps.store, this.replicas, deps.logs);
    deps.logs.setRedactor((id, text) => this.redact(id, text));
  }

  setStatus(id: string, status: DeploymentStatus, reason: string | null): void {
    // Reasons quote app output (preDeploy lines, crash output): redact them like the logs.
    if (reason) reason = this.redact(id, reason);
    this.deps.store.setDeploymentStatus(id, status, reason);
    this.deps.logs.status(id, status, reason);
    this.deps.logger.info({ deployment: id, status, reason }, 'deployment status');
  }

  /** Replaces the deployment's secret values with *** (cached until its variables change). */
  redact(deploymentId: string, text: string): string {
    let r = this.redactors.get(deploymentId);
    if (!r) {
      const d = this.deps.store.findDeployment(deploymentId);
      if (!d) return text;
      r = redactorFor(this.deps.store, d);
      this.redactors.set(deploymentId, r);
    }
    return r(text);
  }

  /** Re-adopts what a previous daemon left running and finishes or fails what was in flight. */
  async start(): Promise<void> {
    const { store } = this.deps;
    await this.deps.edge.ensureRunning();
    for (const d of store.deploymentsWithStatus(['BUILDING', 'DEPLOYING'])) {
      const stale = store.instancesOf(d.id).filter((i) => i.state !== 'exited' && i.state !== 'crashed');
      for (const i of stale) store.updateInstance(i.id, { state: 'stopping' });
      this.setStatus(
        d.id,
        'FAILED',
        'Berth server stopped while this deployment was in progress; run `berth redeploy` to try again',
      );
    }
    const dead = this.replicas.adopt();
    for (const inst of dead) {
      const d = store.getDeployment(inst.deploymentId);
      const active = store.activeDeploymentId(d.serviceId, d.environmentId) === d.id;
      if (active && inst.state !== 'stopping') this.replicas.handleFoundDead(inst);
      else store.updateInstance(inst.id, { state: 'exited', pid: null });
    }
    // Replicas of deployments that are no longer active (a retire cut short, a failed deploy) are stopped.
    const activeIds = new Set(store.activeDeployments().map((d) => d.id));
    const orphans = new Set(
      store
        .liveInstances()
        .filter((i) => !activeIds.has(i.deploymentId))
        .map((i) => i.deploymentId),
    );
    for (const id of orphans) void this.replicas.retire(store.getDeployment(id));
    await this.routes.sync();
    this.cron.sync();
    for (const d of store.deploymentsWithStatus(['QUEUED'])) this.enqueue(d);
    this.offsetTimer = setInterval(() => this.replicas.saveOffsets(), 2000);
    this.offsetTimer.unref();
  }

  /** Stops supervising (replicas and the edge keep running for the next daemon to adopt). */
  close(): void {
    if (this.offsetTimer) clearInterval(this.offsetTimer);
    this.cron.close();
    for (const c of this.inFlight.values()) c.abort(new Error('Berth server is shutting down'));
    this.replicas.close();
  }

  private enqueue(d: Deployment, after: Promise<unknown> = Promise.resolve()): void {
    const key = `${d.serviceId}:${d.environmentId}`;
    const prev = this.queues.get(key) ?? Promise.resolve();
    const next = Promise.all([prev, after])
      .then(() => this.run(d.id))
      .catch((err) => {
        this.deps.logger.error({ err, deployment: d.id }, 'deployment run crashed');
      });
    this.queues.set(key, next);
    this.finished.set(d.id, next);
  }

  private async run(id: string): Promise<void> {
    const d = this.deps.store.getDeployment(id);
    if (d.status !== 'QUEUED') return;
    const ctrl = new AbortController();
    this.inFlight.set(id, ctrl);
    try {
      await runPipeline(
        {
          store: this.deps.store,
          logs: this.deps.logs,
          paths: this.deps.paths,
          replicas: this.replicas,
          routes: this.routes,
          cron: this.cron,
          site: this.deps.site,
          setStatus: (i, s, r) => this.setStatus(i, s, r),
          variablesSnapshotted: (i) => this.redactors.delete(i),
        },
        id,
        ctrl.signal,
      );
    } finally {
      this.inFlight.delete(id);
    }
    try {
      const { removed } = pruneDeployments(
        this.deps.store,
        d.serviceId,
        d.environmentId,
        this.deps.keepDeployments,
      );
      if (removed.length) this.deps.logger.info({ removed }, 'pruned old builds and sources');
    } catch (err) {
      this.deps.logger.warn({ err }, 'pruning old builds failed');
    }
  }

  private queue(d: Deployment, after?: Promise<unknown>): Deployment {
    this.deps.logs.status(d.id, 'QUEUED', null);
    this.enqueue(d, after);
    return d;
  }

  /**
   * Redeploys several services of one environment together (a shared variable changed, an
   * environment was duplicated): a service that references another waits for it to finish
   * first; services referencing each other in a cycle deploy in parallel.
   */
  redeployBatch(env: Environment, services: Service[], from: Environment = env): Deployment[] {
    const byName = new Map(services.map((s) => [s.name, s]));
    const batches = deployOrder(
      services.map((s) => s.name),
      (name: string) =>
        dependenciesOf(this.deps.store, (byName.get(name) as Service).id, env.id, this.deps.site),
    );
    const created: Deployment[] = [];
    let previous: Promise<unknown> = Promise.resolve();
    for (const batch of batches) {
      const ids: string[] = [];
      for (const name of batch) {
        const service = byName.get(name) as Service;
        const active = this.deps.store.activeDeploymentId(service.id, from.id);
        if (!active) continue;
        const d = this.createRedeploy(service, env, this.deps.store.getDeployment(active));
        this.queue(d, previous);
        ids.push(d.id);
        created.push(d);
      }
      const done = ids.map((id) => this.finished.get(id));
      const gate = previous;
      previous = Promise.all([gate, ...done]);
    }
    return created;
  }

  /** `berth up`: the uploaded tarball becomes the deployment's immutable source snapshot. */
  deployUpload(service: Service, env: Environment, tarball: string, message: string | null): Deployment {
    const { store, paths } = this.deps;
    const d = store.createDeployment({
      serviceId: service.id,
      environmentId: env.id,
      kind: 'up',
      message,
      sourcePath: '',
      sourceDeploymentId: null,
    });
    const source = paths.source(d.id);
    fs.mkdirSync(path.dirname(source), { recursive: true });
    fs.renameSync(tarball, source);
    store.db.prepare('UPDATE deployments SET source_path = ? WHERE id = ?').run(source, d.id);
    return this.queue(store.getDeployment(d.id));
  }

  /** Re-runs the latest deployment's source with the current variables (Railway's redeploy). */
  redeploy(service: Service, env: Environment, from?: Deployment): Deployment {
    return this.queue(this.createRedeploy(service, env, from));
  }

  private createRedeploy(service: Service, env: Environment, from?: Deployment): Deployment {
    const { store } = this.deps;
    const latest = from ?? store.listDeployments(service.id, env.id, 50).find((d) => d.sourcePath);
    if (!latest)
      throw new UserError(
        `Service "${service.name}" has nothing to redeploy yet; deploy it with \`berth up\`.`,
      );
    const d = store.createDeployment({
      serviceId: service.id,
      environmentId: env.id,
      kind: 'redeploy',
      message: latest.message,
      sourcePath: latest.sourcePath,
      sourceDeploymentId: latest.id,
    });
    return store.getDeployment(d.id);
  }

  /**
   * Re-activates an earlier deployment's artifact, config and variables, health-gated, without
   * rebuilding. Default target: the newest successful deployment before the active one.
   */
  rollback(service: Service, env: Environment, targetId?: string): Deployment {
    const { store } = this.deps;
    const active = store.activeDeploymentId(service.id, env.id);
    let target: Deployment | undefined;
    if (targetId) {
      target = store.getDeployment(targetId);
      if (target.serviceId !== service.id || target.environmentId !== env.id) {
        throw new UserError(`Deployment ${targetId} belongs to another service or environment.`);
      }
    } else {
      const history = store.listDeployments(service.id, env.id, 200);
      const activeSeq = history.findIndex((d) => d.id === active);
      target = history
        .slice(activeSeq + 1)
        .find(
          (d) =>
            d.id !== active &&
            d.artifactPath &&
            ['REMOVED', 'SUCCESS', 'CRASHED'].includes(d.status) &&
            d.config,
        );
    }
    if (!target?.artifactPath || !target.config) {
      throw new UserError(
        targetId
          ? `Deployment ${targetId} never finished building, so there is nothing to roll back to; pick one from \`berth deployments\` that was SUCCESS.`
          : `Service "${service.name}" has no earlier successful deployment to roll back to.`,
      );
    }
    if (!fs.existsSync(target.artifactPath)) {
      throw new UserError(`The build of deployment ${target.id} was pruned; redeploy its source instead.`);
    }
    return this.queue(this.cloneOf(target, 'rollback'));
  }

  /** Restarts the active deployment: new replicas of the same artifact, health-gated, then a switch. */
  restart(service: Service, env: Environment): Deployment {
    const { store } = this.deps;
    const active = store.activeDeploymentId(service.id, env.id);
    if (!active) throw new UserError(`Service "${service.name}" has no active deployment to restart.`);
    return this.queue(this.cloneOf(store.getDeployment(active), 'restart'));
  }

  private cloneOf(target: Deployment, kind: 'rollback' | 'restart'): Deployment {
    const { store } = this.deps;
    const d = store.createDeployment({
      serviceId: target.serviceId,
      environmentId: target.environmentId,
      kind,
      message: kind === 'rollback' ? `Rollback to ${target.id}` : `Restart of ${target.id}`,
      sourcePath: target.sourcePath,
      sourceDeploymentId: target.id,
      artifactPath: target.artifactPath,
    });
    store.setDeploymentConfig(d.id, {
      config: target.config!,
      origins: target.configOrigins ?? {},
      warnings: target.configWarnings,
    });
    store.setDeploymentVariables(d.id, target.variables, target.sealedNames);
    return store.getDeployment(d.id);
  }

  cancel(id: string): Deployment {
    const d = this.deps.store.getDeployment(id);
    if (TERMINAL_STATUSES.has(d.status)) {
      throw new UserError(
        `Deployment ${id} is already ${d.status}; only queued or running deployments can be cancelled.`,
        {
          status: 409,
          code: 'conflict',
        },
      );
    }
    const ctrl = this.inFlight.get(id);
    if (ctrl) ctrl.abort(new Error('cancelled by request'));
    else this.setStatus(id, 'FAILED', 'cancelled: by request');
    return this.deps.store.getDeployment(id);
  }

  /**
   * Services of an environment whose variables, resolved now, differ from what their active
   * deployment runs with (or no longer resolve): the ones a variable change must redeploy.
   */
  servicesWithPendingChanges(env: Environment): Service[] {
    const { store } = this.deps;
    const project = store.projectById(env.projectId);
    return store.listServices(project.id).filter((s) => {
      const active = store.activeDeploymentId(s.id, env.id);
      if (!active) return false;
      try {
        const now = resolveForDeployment(store, s.id, env.id, this.deps.site).variables;
        return JSON.stringify(now) !== JSON.stringify(store.getDeployment(active).variables);
      } catch {
        return true;
      }
    });
  }

  /** Variables changed: redeploy what is serving (not a newer failed upload) with the new values. */
  variablesChanged(service: Service, env: Environment): Deployment | null {
    const active = this.deps.store.activeDeploymentId(service.id, env.id);
    if (!active) return null;
    return this.redeploy(service, env, this.deps.store.getDeployment(active));
  }

  urlOf(d: Deployment): string {
    return scopeOf(this.deps.store, d, this.deps.site).url;
  }

  serviceUrl(service: Service, env: Environment): string {
    return siteOf(this.deps.store, service.id, env.id, this.deps.site).url;
  }
}
