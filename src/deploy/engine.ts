import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { BucketManager } from '../buckets/buckets.js';
import { UserError } from '../core/errors.js';
import type { Deployment, DeploymentStatus, Environment, Project, Service } from '../core/model.js';
import { TERMINAL_STATUSES } from '../core/model.js';
import { deployOrder } from '../core/variables/index.js';
import { previewBranchHooks } from '../data/branches.js';
import { DataServiceManager } from '../data/data-services.js';
import { DataSleep } from '../data/sleep.js';
import type { EdgeDriver } from '../edge/driver.js';
import { JobGroups, type RuntimeDriver, type SandboxHost, Supervisor } from '../runtime/index.js';
import type { Store } from '../store/store.js';
import type { CertificateManager } from '../tls/certificates.js';
import { AppSleep } from './app-sleep.js';
import { Autoscaler } from './autoscaler.js';
import { CommitChecks } from './commit-checks.js';
import { type SiteOptions, scopeOf, siteOf } from './context.js';
import { CronScheduler } from './cron.js';
import type { DeploymentLogs } from './deployment-log.js';
import { Domains } from './domains.js';
import { EdgePolicies } from './edge-policies.js';
import { Environments } from './environments.js';
import { cloneOf, createRedeploy, rollbackTarget } from './new-deployments.js';
import type { DataPaths } from './paths.js';
import { DEFAULT_MAX_REPLICAS, runPipeline } from './pipeline.js';
import type { PrivateHosts } from './private-network.js';
import { readoptReplicas } from './replica-recovery.js';
import { Replicas } from './replicas.js';
import { pruneDependencyCache, pruneDeployments, removeFailedBuilds } from './retention.js';
import { RouteSync } from './route-sync.js';
import { SandboxUsers } from './sandbox-users.js';
import { type ScaleDeps, scaleActive, scaleTo } from './scale.js';
import { SharedBuilds } from './shared-builds.js';
import { removeHttpLogs, Teardown } from './teardown.js';
import { dependenciesOf, localRunVariables, redactorFor, servicesWithPendingChanges } from './variables.js';

/** The dependency cache is pruned after deployments, at most this often. */
const CACHE_PRUNE_INTERVAL_MS = 60 * 60_000;

export type StatusListener = (deploymentId: string, status: DeploymentStatus, reason: string | null) => void;

export interface EngineDeps {
  store: Store;
  logs: DeploymentLogs;
  driver: RuntimeDriver;
  edge: EdgeDriver;
  paths: DataPaths;
  site: SiteOptions;
  logger: Logger;
  /** Deployments per service and environment whose builds and sources are kept on disk. */
  keepDeployments: number;
  /** Dependency installs unused by any build for this many days leave the cache (default 14). */
  dependencyCacheDays?: number;
  /** Most replicas one deployment may ask for (default DEFAULT_MAX_REPLICAS). */
  maxReplicas?: number;
  /** Keeps private domains in the hosts file; null leaves the hosts file alone. */
  privateHosts?: PrivateHosts | null;
  /** TLS certificates for routed host names; null when the edge serves HTTP only. */
  certificates?: CertificateManager | null;
  /** Run users' code sandboxed (runtime/sandbox.ts); null or absent: as the daemon's user. */
  sandbox?: SandboxHost | null;
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
  readonly environments: Environments;
  readonly teardown: Teardown;
  /** Custom domains and certificates of a service (domains.ts). */
  readonly domains: Domains;
  /** The `[edge]` policy `berth waf` reads and changes (edge-policies.ts). */
  readonly edgePolicies: EdgePolicies;
  /** Deployments waiting for their commit's checks (commit-checks.ts). */
  readonly checks: CommitChecks;
  /** Data services (databases): their volumes and supervised engines. */
  readonly data: DataServiceManager;
  /** Adds and removes replicas of autoscaled deployments by their CPU (autoscaler.ts). */
  readonly autoscaler: Autoscaler;
  /** Scale to zero: databases (`berth db sleep`) and apps (sleepApplication). */
  readonly sleep: { data: DataSleep; apps: AppSleep };
  /** Buckets and the object store that serves them (src/buckets). */
  readonly buckets: BucketManager;
  private readonly builds: SharedBuilds;
  private readonly jobs: JobGroups;
  private readonly sandboxUsers: SandboxUsers;
  /** Environments being torn down: their queued deployments do not start. */
  private readonly closing = new Set<string>();
  private readonly queues = new Map<string, Promise<void>>();
  /** Settles when a deployment's run ends; batch members wait on the services they reference. */
  private readonly finished = new Map<string, Promise<void>>();
  private readonly redactors = new Map<string, (text: string) => string>();
  private readonly inFlight = new Map<string, AbortController>();
  /** The running dependency cache prune, and when the last one started (one at a time, at most hourly). */
  private cachePrune: Promise<void> | null = null;
  private cachePrunedAt = 0;
  private offsetTimer: NodeJS.Timeout | null = null;
  private readonly statusListeners: StatusListener[] = [];

  constructor(private readonly deps: EngineDeps) {
    this.sandboxUsers = new SandboxUsers(deps.store, deps.paths, deps.sandbox ?? null);
    this.routes = new RouteSync(
      deps.store,
      deps.edge,
      deps.site,
      deps.privateHosts ?? null,
      deps.certificates ?? null,
    );
    this.replicas = new Replicas({
      store: deps.store,
      logs: deps.logs,
      supervisor: new Supervisor(deps.driver),
      paths: deps.paths,
      routes: this.routes,
      edge: deps.edge,
      site: deps.site,
      sandboxUsers: this.sandboxUsers,
      onCrashed: (id, reason) => this.setStatus(id, 'CRASHED', reason),
      onJobExit: (id, info) => this.cron.ended(id, info),
    });
    this.cron = new CronScheduler(deps.store, this.replicas, deps.logs);
    this.domains = new Domains({
      store: deps.store,
      site: deps.site,
      certificates: deps.certificates ?? null,
      routes: this.routes,
    });
    this.edgePolicies = new EdgePolicies(deps.store, this.routes);
    this.checks = new CommitChecks({
      store: deps.store,
      setStatus: (id, status, reason) => this.setStatus(id, status, reason),
      run: (d) => this.enqueue(d),
    });
    this.data = new DataServiceManager({
      store: deps.store,
      paths: deps.paths,
      driver: deps.driver,
      sandboxUsers: this.sandboxUsers,
      logger: deps.logger,
      publicHost: deps.site.domain,
      namesChanged: () => this.routes.sync(),
    });
    this.sleep = {
      data: new DataSleep({ store: deps.store, data: this.data, logger: deps.logger }),
      apps: new AppSleep({
        ...deps,
        replicas: this.replicas,
        routes: this.routes,
        inQueue: (serviceId, environmentId, fn) => this.inQueue(`${serviceId}:${environmentId}`, fn),
      }),
    };
    deps.logs.setRedactor((id, text) => this.redact(id, text));
    this.autoscaler = new Autoscaler({
      store: deps.store,
      driver: deps.driver,
      logs: deps.logs,
      logger: deps.logger,
      scale: (d, from, to) => this.autoscale(d, from, to),
    });
    this.builds = new SharedBuilds(deps.store);
    this.jobs = new JobGroups(deps.paths.jobs);
    this.environments = new Environments({
      store: deps.store,
      engine: this,
      paths: deps.paths,
      logger: deps.logger,
    });
    this.environments.addHooks(
      previewBranchHooks({ store: deps.store, data: this.data, paths: deps.paths, logger: deps.logger }),
    );
    this.teardown = new Teardown({
      store: deps.store,
      engine: this,
      environments: this.environments,
      paths: deps.paths,
      logger: deps.logger,
    });
    this.buckets = new BucketManager({
      store: deps.store,
      site: deps.site,
      dataDir: deps.paths.root,
      logger: deps.logger,
      syncRoutes: () => this.routes.sync(),
    });
    this.routes.setStorage(this.buckets);
    this.environments.addHooks(this.buckets.environmentHooks());
    this.teardown.addServiceHooks(this.buckets.serviceHooks());
  }

  setStatus(id: string, status: DeploymentStatus, reason: string | null): void {
    // Reasons quote app output (preDeploy lines, crash output): redact them like the logs.
    if (reason) reason = this.redact(id, reason);
    this.deps.store.deployments.setStatus(id, status, reason);
    this.deps.logs.status(id, status, reason);
    this.deps.logger.info({ deployment: id, status, reason }, 'deployment status');
    for (const fn of this.statusListeners) {
      try {
        fn(id, status, reason);
      } catch (err) {
        this.deps.logger.warn({ err, deployment: id }, 'status listener failed');
      }
    }
  }

  /** Called after every stored status change (commit status reports attach here). */
  onStatus(fn: StatusListener): void {
    this.statusListeners.push(fn);
  }

  /** Replaces the deployment's secret values with *** (cached until its variables change). */
  redact(deploymentId: string, text: string): string {
    let r = this.redactors.get(deploymentId);
    if (!r) {
      const d = this.deps.store.deployments.find(deploymentId);
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
    // Builds and preDeployCommands of a daemon that died: nobody waits for them any more.
    const leftovers = this.jobs.killLeftovers();
    if (leftovers > 0)
      this.deps.logger.warn(
        `stopped ${leftovers} build or preDeploy command(s) a previous server left running`,
      );
    const interrupted = store.deployments.withStatus(['BUILDING', 'DEPLOYING']);
    for (const d of interrupted) {
      const stale = store.workloads
        .ofDeployment(d.id)
        .filter((i) => i.state !== 'exited' && i.state !== 'crashed');
      for (const i of stale) store.workloads.update(i.id, { state: 'stopping' });
      this.setStatus(
        d.id,
        'FAILED',
        'Berth server stopped while this deployment was in progress; run `berth redeploy` to try again',
      );
    }
    this.removeFailedBuilds(store.deployments.withStatus(['FAILED']));
    const handover = { store, replicas: this.replicas, routes: this.routes, logs: this.deps.logs };
    const { background } = await readoptReplicas(handover, interrupted);
    void background.catch((err) =>
      this.deps.logger.error({ err }, 'restarting an interrupted singleton failed'),
    );
    await this.data.adopt();
    await this.sleep.data.start();
    await this.sleep.apps.start();
    await this.buckets.start();
    await this.routes.sync();
    this.cron.sync();
    for (const d of store.deployments.withStatus(['QUEUED'])) this.enqueue(d);
    this.offsetTimer = setInterval(() => this.replicas.saveOffsets(), 2000);
    this.offsetTimer.unref();
    this.checks.start();
    this.autoscaler.start();
    this.pruneDependencyCache();
  }

  /** Deletes what unfinished builds left on disk (retention.ts); never throws. */
  private removeFailedBuilds(deployments: Deployment[]): void {
    try {
      const removed = removeFailedBuilds(this.deps.store, this.deps.paths, deployments);
      if (removed.length) this.deps.logger.info({ removed }, 'removed the trees of failed builds');
    } catch (err) {
      this.deps.logger.warn({ err }, 'removing the trees of failed builds failed');
    }
  }

  /** Starts a prune of the dependency cache unless one runs or ran within the hour; never throws. */
  private pruneDependencyCache(): void {
    if (this.cachePrune !== null || Date.now() - this.cachePrunedAt < CACHE_PRUNE_INTERVAL_MS) return;
    this.cachePrunedAt = Date.now();
    const days = this.deps.dependencyCacheDays ?? 14;
    this.cachePrune = pruneDependencyCache(this.deps.paths, days * 86_400_000)
      .then(
        (removed) => {
          if (removed.length) this.deps.logger.info({ removed }, 'pruned unused dependency installs');
        },
        (err) => this.deps.logger.warn({ err }, 'pruning the dependency cache failed'),
      )
      .finally(() => {
        this.cachePrune = null;
      });
  }

  /**
   * Takes an environment out of service before it is deleted: queued deployments never start,
   * running ones are cancelled and awaited, its routes and cron schedules go, its replicas are killed.
   */
  async stopEnvironment(env: Environment): Promise<void> {
    const { store } = this.deps;
    await this.stopScope(
      env.id,
      store.deployments.ofEnvironment(env.id),
      store.services.list(env.projectId).map((s) => ({ serviceId: s.id, environmentId: env.id })),
      'its environment is being deleted',
    );
  }

  /** The same for one service in every environment, before the service is deleted. */
  async stopService(service: Service): Promise<void> {
    const { store } = this.deps;
    await this.stopScope(
      service.id,
      store.deployments.ofService(service.id),
      store.environments.list(service.projectId).map((e) => ({ serviceId: service.id, environmentId: e.id })),
      'its service is being deleted',
    );
  }

  /** scopeId (an environment's or a service's id) is closed until forget(scopeId). */
  private async stopScope(
    scopeId: string,
    deployments: Deployment[],
    pairs: { serviceId: string; environmentId: string }[],
    why: string,
  ): Promise<void> {
    const { store } = this.deps;
    this.closing.add(scopeId);
    try {
      for (const d of deployments) this.inFlight.get(d.id)?.abort(new Error(why));
      const keys = new Set(pairs.map((p) => `${p.serviceId}:${p.environmentId}`));
      await Promise.all([...this.queues.entries()].filter(([k]) => keys.has(k)).map(([, p]) => p));
      for (const p of pairs) {
        if (store.deployments.findActiveId(p.serviceId, p.environmentId))
          store.deployments.setActive(p.serviceId, p.environmentId, null);
      }
      await this.routes.sync();
      this.cron.sync();
      const live = deployments.flatMap((d) =>
        store.workloads
          .ofDeployment(d.id)
          .filter((i) => i.state !== 'exited' && i.state !== 'crashed')
          .map((i) => i.id),
      );
      await this.replicas.discard(live);
      await this.data.stopEngines(pairs);
      for (const d of deployments) this.redactors.delete(d.id);
      for (const k of keys) this.queues.delete(k);
    } catch (err) {
      this.closing.delete(scopeId);
      throw err;
    }
  }

  /**
   * Railway's `down`: the active deployment stops serving (REMOVED), its replicas drain and stop; the service,
   * its variables and settings stay, and the next deploy brings it back.
   */
  async takeDown(service: Service, env: Environment): Promise<Deployment> {
    const { store } = this.deps;
    const active = store.deployments.findActiveId(service.id, env.id);
    if (!active) {
      throw new UserError(
        `Service "${service.name}" has no active deployment in ${env.name}; there is nothing to take down.`,
        { status: 409, code: 'conflict' },
      );
    }
    const d = store.deployments.get(active);
    store.deployments.setActive(service.id, env.id, null);
    this.setStatus(d.id, 'REMOVED', 'Taken down with `berth down`');
    await this.routes.sync();
    this.cron.sync();
    await this.replicas.retire(d);
    return store.deployments.get(d.id);
  }

  /** The environment's (or service's) rows are gone: nothing can be queued for it any more. */
  forget(scopeId: string): void {
    this.closing.delete(scopeId);
  }

  /** Deletes the edge's access logs of these services in a deleted environment (failures are logged). */
  removeHttpLogs(project: Project, environment: Environment, services: Service[]): Promise<void> {
    return removeHttpLogs(this.deps.edge, this.deps.logger, project, environment, services);
  }

  hostnamesOf(service: Service, env: Environment): string[] {
    const d = this.domains.of(service, env);
    return [d.generated.hostname, ...d.custom.map((c) => c.hostname)];
  }

  syncRoutes(): Promise<void> {
    return this.routes.sync();
  }

  /** Stops supervising (replicas and the edge keep running for the next daemon to adopt). */
  close(): void {
    if (this.offsetTimer) clearInterval(this.offsetTimer);
    this.checks.close();
    this.autoscaler.close();
    this.cron.close();
    for (const c of this.inFlight.values()) c.abort(new Error('Berth server is shutting down'));
    this.replicas.close();
    this.sleep.apps.close();
    this.sleep.data.close();
    this.data.close();
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

  private get maxReplicas(): number {
    return this.deps.maxReplicas ?? DEFAULT_MAX_REPLICAS;
  }

  private isClosing(d: Deployment): boolean {
    return this.closing.has(d.environmentId) || this.closing.has(d.serviceId);
  }

  private async run(id: string): Promise<void> {
    // Gone or going: its environment was deleted while it waited in the queue.
    const d = this.deps.store.deployments.find(id);
    if (d?.status !== 'QUEUED' || this.isClosing(d)) return;
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
          builds: this.builds,
          jobs: this.jobs,
          maxReplicas: this.maxReplicas,
          sandboxUsers: this.sandboxUsers,
        },
        id,
        ctrl.signal,
      );
    } finally {
      this.inFlight.delete(id);
    }
    this.removeFailedBuilds([this.deps.store.deployments.get(id)]);
    if (this.isClosing(d)) return;
    try {
      const { removed } = pruneDeployments(
        this.deps.store,
        d.serviceId,
        d.environmentId,
        this.deps.keepDeployments,
        this.deps.paths,
      );
      if (removed.length) this.deps.logger.info({ removed }, 'pruned old builds and sources');
    } catch (err) {
      this.deps.logger.warn({ err }, 'pruning old builds failed');
    }
    this.pruneDependencyCache();
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
        const active = this.deps.store.deployments.findActiveId(service.id, from.id);
        if (!active) continue;
        const d = createRedeploy(this.deps.store, service, env, this.deps.store.deployments.get(active));
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

  /**
   * `berth up` and git pushes: the tarball becomes the deployment's immutable source snapshot. `prepare`
   * runs before the deployment is queued (git metadata, where the service sits in the snapshot).
   */
  deployUpload(
    service: Service,
    env: Environment,
    tarball: string,
    message: string | null,
    opts: { prepare?: (d: Deployment) => void; waitForChecks?: boolean } = {},
  ): Deployment {
    const { store, paths } = this.deps;
    const d = store.deployments.create({
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
    store.deployments.setSourcePath(d.id, source);
    opts.prepare?.(store.deployments.get(d.id));
    if (opts.waitForChecks) {
      this.setStatus(d.id, 'WAITING', 'waiting for a successful commit status (wait for checks is on)');
      return store.deployments.get(d.id);
    }
    return this.queue(store.deployments.get(d.id));
  }

  /** Re-runs the latest deployment's source with the current variables (Railway's redeploy). */
  redeploy(service: Service, env: Environment, from?: Deployment): Deployment {
    return this.queue(createRedeploy(this.deps.store, service, env, from));
  }

  /**
   * Re-activates an earlier deployment's artifact, config and variables, health-gated, without
   * rebuilding. Default target: the newest successful deployment before the active one.
   */
  rollback(service: Service, env: Environment, targetId?: string): Deployment {
    const target = rollbackTarget(this.deps.store, service, env, targetId);
    return this.queue(cloneOf(this.deps.store, target, 'rollback'));
  }

  /** `berth scale` (scale.ts), in the service's queue so it never races a deployment. */
  scale(service: Service, env: Environment, n: number): Promise<Deployment> {
    return this.inQueue(`${service.id}:${env.id}`, async (deps) => {
      const d = await scaleActive(deps, service, env, n);
      this.autoscaler.reset(d.id);
      return d;
    });
  }

  /**
   * The autoscaler's change, in the service's queue too; dropped when d is no longer the active deployment or no
   * longer runs `from` replicas (a `berth scale` queued before it won).
   */
  private autoscale(d: Deployment, from: number, to: number): Promise<void> {
    const { store } = this.deps;
    return this.inQueue(`${d.serviceId}:${d.environmentId}`, async (deps) => {
      if (store.deployments.findActiveId(d.serviceId, d.environmentId) !== d.id) return;
      const now = store.deployments.get(d.id);
      if (now.config?.deploy.numReplicas !== from) return;
      await scaleTo(deps, now, to, store.services.getById(d.serviceId).name);
    });
  }

  /** Runs fn in a service's deployment queue (key `serviceId:environmentId`) after what it holds; the queue goes on whatever fn does. */
  private inQueue<T>(key: string, fn: (deps: ScaleDeps) => Promise<T>): Promise<T> {
    const deps = {
      ...this.deps,
      replicas: this.replicas,
      routes: this.routes,
      maxReplicas: this.maxReplicas,
    };
    const run = (this.queues.get(key) ?? Promise.resolve()).then(() => fn(deps));
    this.queues.set(
      key,
      run.then(
        () => undefined,
        () => undefined,
      ),
    );
    return run;
  }

  /** Restarts the active deployment: new replicas of the same artifact, health-gated, then a switch. */
  restart(service: Service, env: Environment): Deployment {
    const { store } = this.deps;
    const active = store.deployments.findActiveId(service.id, env.id);
    if (!active) throw new UserError(`Service "${service.name}" has no active deployment to restart.`);
    return this.queue(cloneOf(store, store.deployments.get(active), 'restart'));
  }

  cancel(id: string): Deployment {
    const d = this.deps.store.deployments.get(id);
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
    return this.deps.store.deployments.get(id);
  }

  /** The services a variable change must redeploy (variables.ts servicesWithPendingChanges). */
  servicesWithPendingChanges(env: Environment): Service[] {
    return servicesWithPendingChanges(this.deps.store, env, this.deps.site);
  }

  /** Variables changed: redeploy what is serving (not a newer failed upload) with the new values. */
  variablesChanged(service: Service, env: Environment): Deployment | null {
    const active = this.deps.store.deployments.findActiveId(service.id, env.id);
    if (!active) return null;
    return this.redeploy(service, env, this.deps.store.deployments.get(active));
  }

  /** The variables `berth run` injects (see localRunVariables). */
  runVariables(service: Service, env: Environment): Record<string, string> {
    return localRunVariables(this.deps.store, service.id, env.id, this.deps.site);
  }

  urlOf(d: Deployment): string {
    return scopeOf(this.deps.store, d, this.deps.site).url;
  }

  serviceUrl(service: Service, env: Environment): string {
    return siteOf(this.deps.store, service.id, env.id, this.deps.site).url;
  }
}
