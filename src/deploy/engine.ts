import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { domainKey, normalizeCustomDomain } from '../core/domains.js';
import { NotFoundError, UserError } from '../core/errors.js';
import type { Deployment, DeploymentStatus, Environment, Project, Service } from '../core/model.js';
import { TERMINAL_STATUSES } from '../core/model.js';
import { deployOrder } from '../core/variables/index.js';
import { DataServiceManager } from '../data/data-services.js';
import type { EdgeDriver } from '../edge/driver.js';
import { JobGroups, type RuntimeDriver, type SandboxHost, Supervisor } from '../runtime/index.js';
import type { Store } from '../store/store.js';
import type { CertificateInfo, CertificateManager } from '../tls/certificates.js';
import { type SiteOptions, scopeOf, siteOf } from './context.js';
import { CronScheduler } from './cron.js';
import type { DeploymentLogs } from './deployment-log.js';
import { applyPolicyPatch, type EffectivePolicy, effectivePolicy } from './edge-policy.js';
import { Environments } from './environments.js';
import { publicUrl } from './hostnames.js';
import type { DataPaths } from './paths.js';
import { DEFAULT_MAX_REPLICAS, runPipeline } from './pipeline.js';
import type { PrivateHosts } from './private-network.js';
import { Replicas } from './replicas.js';
import { pruneDependencyCache, pruneDeployments, removeFailedBuilds } from './retention.js';
import { RouteSync } from './route-sync.js';
import { SandboxUsers } from './sandbox-users.js';
import { SharedBuilds } from './shared-builds.js';
import { dependenciesOf, localRunVariables, redactorFor, resolveForDeployment } from './variables.js';

export interface ServiceDomains {
  generated: { hostname: string; url: string; httpsUrl: string | null };
  custom: {
    hostname: string;
    url: string;
    httpsUrl: string | null;
    httpsRedirect: boolean;
    createdAt: string;
    certificate: CertificateInfo | null;
  }[];
}

/** The dependency cache is pruned after deployments, at most this often. */
const CACHE_PRUNE_INTERVAL_MS = 60 * 60_000;

/** How long a deployment waits for its commit's checks before it is SKIPPED. */
export const WAIT_FOR_CHECKS_MS = 60 * 60_000;

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
  /** Data services (databases): their volumes and supervised engines. */
  readonly data: DataServiceManager;
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
  private waitTimer: NodeJS.Timeout | null = null;
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
    });
    this.cron = new CronScheduler(deps.store, this.replicas, deps.logs);
    this.data = new DataServiceManager({
      store: deps.store,
      paths: deps.paths,
      driver: deps.driver,
      sandboxUsers: this.sandboxUsers,
      logger: deps.logger,
      publicHost: deps.site.domain,
      namesChanged: () => this.routes.sync(),
    });
    deps.logs.setRedactor((id, text) => this.redact(id, text));
    this.builds = new SharedBuilds(deps.store);
    this.jobs = new JobGroups(deps.paths.jobs);
    this.environments = new Environments({
      store: deps.store,
      engine: this,
      paths: deps.paths,
      logger: deps.logger,
    });
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

  /**
   * A commit status arrived (GitHub status/check_suite webhook or the API): WAITING deployments of that
   * commit run on success, end SKIPPED on failure or error (with the check named), stay on pending.
   */
  commitStatus(
    projectId: string,
    sha: string,
    status: { state: string; context?: string | null; description?: string | null },
  ): { released: string[]; skipped: string[] } {
    const waiting = this.deps.store.deployments.waitingForCommit(projectId, sha);
    const out = { released: [] as string[], skipped: [] as string[] };
    const state = status.state.toLowerCase();
    const check = status.context ? `"${status.context}"` : 'of the commit';
    for (const d of waiting) {
      if (state === 'success') {
        this.setStatus(d.id, 'QUEUED', `checks passed (commit status ${check} is success)`);
        this.enqueue(this.deps.store.deployments.get(d.id));
        out.released.push(d.id);
      } else if (['failure', 'error', 'cancelled', 'timed_out', 'action_required'].includes(state)) {
        const why = status.description ? `: ${status.description}` : '';
        this.setStatus(d.id, 'SKIPPED', `checks did not pass: commit status ${check} is ${state}${why}`);
        out.skipped.push(d.id);
      }
    }
    return out;
  }

  /** WAITING deployments nobody released within the limit end SKIPPED, never silently forgotten. */
  private expireWaiting(): void {
    const limit = Date.now() - WAIT_FOR_CHECKS_MS;
    for (const d of this.deps.store.deployments.withStatus(['WAITING'])) {
      if (Date.parse(d.createdAt) < limit) {
        this.setStatus(
          d.id,
          'SKIPPED',
          `no successful commit status arrived within ${WAIT_FOR_CHECKS_MS / 60_000} minutes of waiting for checks`,
        );
      }
    }
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
    for (const d of store.deployments.withStatus(['BUILDING', 'DEPLOYING'])) {
      const stale = store.instances.of(d.id).filter((i) => i.state !== 'exited' && i.state !== 'crashed');
      for (const i of stale) store.instances.update(i.id, { state: 'stopping' });
      this.setStatus(
        d.id,
        'FAILED',
        'Berth server stopped while this deployment was in progress; run `berth redeploy` to try again',
      );
    }
    this.removeFailedBuilds(store.deployments.withStatus(['FAILED']));
    const dead = await this.replicas.adopt();
    for (const inst of dead) {
      const d = store.deployments.get(inst.deploymentId);
      const active = store.deployments.findActiveId(d.serviceId, d.environmentId) === d.id;
      if (active && inst.state !== 'stopping') this.replicas.handleFoundDead(inst);
      else store.instances.update(inst.id, { state: 'exited', handle: null });
    }
    // Replicas of deployments that are no longer active (a retire cut short, a failed deploy) are stopped.
    const activeIds = new Set(store.deployments.listActive().map((d) => d.id));
    const orphans = new Set(
      store.instances
        .live()
        .filter((i) => !activeIds.has(i.deploymentId))
        .map((i) => i.deploymentId),
    );
    for (const id of orphans) void this.replicas.retire(store.deployments.get(id));
    await this.data.adopt();
    await this.routes.sync();
    this.cron.sync();
    for (const d of store.deployments.withStatus(['QUEUED'])) this.enqueue(d);
    this.offsetTimer = setInterval(() => this.replicas.saveOffsets(), 2000);
    this.offsetTimer.unref();
    this.expireWaiting();
    this.waitTimer = setInterval(() => this.expireWaiting(), 60_000);
    this.waitTimer.unref();
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
    this.closing.add(env.id);
    try {
      const deployments = store.deployments.ofEnvironment(env.id);
      for (const d of deployments)
        this.inFlight.get(d.id)?.abort(new Error('its environment is being deleted'));
      const runs = [...this.queues.entries()].filter(([k]) => k.endsWith(`:${env.id}`)).map(([, p]) => p);
      await Promise.all(runs);
      for (const s of store.services.list(env.projectId)) {
        if (store.deployments.findActiveId(s.id, env.id)) store.deployments.setActive(s.id, env.id, null);
      }
      await this.routes.sync();
      this.cron.sync();
      const live = deployments.flatMap((d) =>
        store.instances
          .of(d.id)
          .filter((i) => i.state !== 'exited' && i.state !== 'crashed')
          .map((i) => i.id),
      );
      await this.replicas.discard(live);
      await this.data.stopEnvironment(env.id);
      for (const d of deployments) this.redactors.delete(d.id);
      for (const k of [...this.queues.keys()]) if (k.endsWith(`:${env.id}`)) this.queues.delete(k);
    } catch (err) {
      this.closing.delete(env.id);
      throw err;
    }
  }

  /** The environment's rows are gone: nothing can be queued for it any more. */
  forgetEnvironment(environmentId: string): void {
    this.closing.delete(environmentId);
  }

  /** Deletes the edge's access logs of these services in a deleted environment (failures are logged). */
  async removeHttpLogs(project: Project, environment: Environment, services: Service[]): Promise<void> {
    for (const s of services) {
      await this.deps.edge
        .removeHttpLogs({
          project: project.name,
          environment: environment.name,
          service: s.name,
          serviceId: s.id,
          environmentId: environment.id,
        })
        .catch((err: Error) =>
          this.deps.logger.warn(`could not delete the access log of ${s.name}: ${err.message}`),
        );
    }
  }

  /** Stops supervising (replicas and the edge keep running for the next daemon to adopt). */
  close(): void {
    if (this.offsetTimer) clearInterval(this.offsetTimer);
    if (this.waitTimer) clearInterval(this.waitTimer);
    this.cron.close();
    for (const c of this.inFlight.values()) c.abort(new Error('Berth server is shutting down'));
    this.replicas.close();
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

  private async run(id: string): Promise<void> {
    // Gone or going: its environment was deleted while it waited in the queue.
    const d = this.deps.store.deployments.find(id);
    if (d?.status !== 'QUEUED' || this.closing.has(d.environmentId)) return;
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
          maxReplicas: this.deps.maxReplicas ?? DEFAULT_MAX_REPLICAS,
          sandboxUsers: this.sandboxUsers,
        },
        id,
        ctrl.signal,
      );
    } finally {
      this.inFlight.delete(id);
    }
    this.removeFailedBuilds([this.deps.store.deployments.get(id)]);
    if (this.closing.has(d.environmentId)) return;
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
        const d = this.createRedeploy(service, env, this.deps.store.deployments.get(active));
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
    return this.queue(this.createRedeploy(service, env, from));
  }

  private createRedeploy(service: Service, env: Environment, from?: Deployment): Deployment {
    const { store } = this.deps;
    const latest = from ?? store.deployments.list(service.id, env.id, 50).find((d) => d.sourcePath);
    if (!latest)
      throw new UserError(
        `Service "${service.name}" has nothing to redeploy yet; deploy it with \`berth up\`.`,
      );
    const d = store.deployments.create({
      serviceId: service.id,
      environmentId: env.id,
      kind: 'redeploy',
      message: latest.message,
      sourcePath: latest.sourcePath,
      sourceDeploymentId: latest.id,
    });
    // Same place in the same snapshot; a redeploy always deploys, whatever watchPatterns say.
    store.deployments.setSource(d.id, { ...latest.source, changedFiles: null });
    return store.deployments.get(d.id);
  }

  /**
   * Re-activates an earlier deployment's artifact, config and variables, health-gated, without
   * rebuilding. Default target: the newest successful deployment before the active one.
   */
  rollback(service: Service, env: Environment, targetId?: string): Deployment {
    const { store } = this.deps;
    const active = store.deployments.findActiveId(service.id, env.id);
    let target: Deployment | undefined;
    if (targetId) {
      target = store.deployments.get(targetId);
      if (target.serviceId !== service.id || target.environmentId !== env.id) {
        throw new UserError(`Deployment ${targetId} belongs to another service or environment.`);
      }
    } else {
      const history = store.deployments.list(service.id, env.id, 200);
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
    const active = store.deployments.findActiveId(service.id, env.id);
    if (!active) throw new UserError(`Service "${service.name}" has no active deployment to restart.`);
    return this.queue(this.cloneOf(store.deployments.get(active), 'restart'));
  }

  private cloneOf(target: Deployment, kind: 'rollback' | 'restart'): Deployment {
    const { store } = this.deps;
    const d = store.deployments.create({
      serviceId: target.serviceId,
      environmentId: target.environmentId,
      kind,
      message: kind === 'rollback' ? `Rollback to ${target.id}` : `Restart of ${target.id}`,
      sourcePath: target.sourcePath,
      sourceDeploymentId: target.id,
      artifactPath: target.artifactPath,
    });
    store.deployments.setConfig(d.id, {
      config: target.config!,
      origins: target.configOrigins ?? {},
      warnings: target.configWarnings,
    });
    store.deployments.setVariables(d.id, target.variables, target.sealedNames);
    return store.deployments.get(d.id);
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

  /**
   * Services of an environment whose variables, resolved now, differ from what their active
   * deployment runs with (or no longer resolve): the ones a variable change must redeploy.
   */
  servicesWithPendingChanges(env: Environment): Service[] {
    const { store } = this.deps;
    const project = store.projects.getById(env.projectId);
    return store.services.list(project.id).filter((s) => {
      const active = store.deployments.findActiveId(s.id, env.id);
      if (!active) return false;
      try {
        const now = resolveForDeployment(store, s.id, env.id, this.deps.site).variables;
        return JSON.stringify(now) !== JSON.stringify(store.deployments.get(active).variables);
      } catch {
        return true;
      }
    });
  }

  /** Variables changed: redeploy what is serving (not a newer failed upload) with the new values. */
  variablesChanged(service: Service, env: Environment): Deployment | null {
    const active = this.deps.store.deployments.findActiveId(service.id, env.id);
    if (!active) return null;
    return this.redeploy(service, env, this.deps.store.deployments.get(active));
  }

  /** The generated domain of a service and its custom ones, with their URLs. */
  domainsOf(service: Service, env: Environment): ServiceDomains {
    const site = siteOf(this.deps.store, service.id, env.id, this.deps.site);
    return {
      generated: { hostname: site.hostname, url: site.url, httpsUrl: this.httpsUrl(site.hostname) },
      custom: this.deps.store.domains.list(service.id, env.id).map((d) => ({
        hostname: d.hostname,
        url: publicUrl(d.hostname, this.deps.site.httpPort),
        httpsUrl: this.httpsUrl(d.hostname),
        httpsRedirect: d.httpsRedirect,
        createdAt: d.createdAt,
        certificate: this.deps.certificates?.info(d.hostname) ?? null,
      })),
    };
  }

  private httpsUrl(hostname: string): string | null {
    const p = this.deps.site.httpsPort ?? null;
    if (p === null) return null;
    return p === 443 ? `https://${hostname}` : `https://${hostname}:${p}`;
  }

  /** Stores an uploaded certificate for a custom domain of this service and hands it to the edge. */
  async uploadCertificate(
    service: Service,
    env: Environment,
    hostname: string,
    pem: { cert: string; key: string },
  ): Promise<ServiceDomains> {
    const name = domainKey(hostname);
    const owner = this.deps.store.domains.find(name);
    if (!owner || owner.serviceId !== service.id || owner.environmentId !== env.id) {
      throw new NotFoundError(
        `${service.name} (${env.name}) has no custom domain ${name}; add it first with \`berth domain ${name}\`.`,
      );
    }
    if (!this.deps.certificates) {
      throw new UserError(
        'This server serves HTTP only (--no-https); restart it with HTTPS to use certificates.',
      );
    }
    this.deps.certificates.upload(name, pem.cert, pem.key);
    await this.routes.sync();
    return this.domainsOf(service, env);
  }

  /** Adds a custom domain and routes it at once (the edge serves it from the next table on). */
  async addDomain(
    service: Service,
    env: Environment,
    input: string,
    opts: { httpsRedirect?: boolean } = {},
  ): Promise<ServiceDomains> {
    const hostname = normalizeCustomDomain(input);
    const generatedZone = this.deps.site.domain.toLowerCase();
    const generated = this.deps.store.generatedNames
      .list()
      .find((n) => `${n.label}.${generatedZone}` === hostname);
    if (generated) {
      throw new UserError(
        `${hostname} is the generated host name of service "${generated.service}" of project "${generated.project}" (${generated.environment}); use a domain of your own.`,
        { status: 409, code: 'domain_taken' },
      );
    }
    if (hostname === generatedZone || hostname.endsWith(`.${generatedZone}`)) {
      throw new UserError(
        `${hostname} is under ${generatedZone}, where Berth generates service domains; use a domain of your own.`,
        { code: 'invalid_domain' },
      );
    }
    this.deps.store.domains.add(hostname, service.id, env.id, opts.httpsRedirect ?? true);
    await this.routes.sync();
    return this.domainsOf(service, env);
  }

  async deleteDomain(service: Service, env: Environment, input: string): Promise<ServiceDomains> {
    const hostname = domainKey(input);
    if (this.deps.store.domains.delete(hostname, service.id, env.id)) {
      this.deps.store.certificates.delete(hostname);
    } else {
      throw new NotFoundError(
        `${service.name} (${env.name}) has no custom domain ${hostname}; see them with \`berth domain list\`.`,
      );
    }
    await this.routes.sync();
    return this.domainsOf(service, env);
  }

  /** The `[edge]` policy the edge enforces for a service now, and where each value comes from. */
  edgePolicyOf(service: Service, env: Environment): EffectivePolicy {
    const active = this.deps.store.deployments.findActiveId(service.id, env.id);
    const d = active ? this.deps.store.deployments.get(active) : null;
    return effectivePolicy(d, this.deps.store.edgePolicies.of(service.id, env.id));
  }

  /** Changes the API-set policy (null clears a key) and applies it at once, without a deploy. */
  async setEdgePolicy(
    service: Service,
    env: Environment,
    patch: Record<string, unknown>,
  ): Promise<EffectivePolicy> {
    const next = applyPolicyPatch(this.deps.store.edgePolicies.of(service.id, env.id), patch);
    this.deps.store.edgePolicies.set(service.id, env.id, next);
    await this.routes.sync();
    return this.edgePolicyOf(service, env);
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
