/**
 * `sleepApplication = true`: a service without a request for sleepAfterSeconds has its replicas stopped and its
 * route pointed at a wake listener (lib/wake-listener.ts), which holds requests while the replicas start again.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../core/errors.js';
import type { Deployment } from '../core/model.js';
import type { EdgeDriver } from '../edge/driver.js';
import { serviceIdsKey } from '../edge/metrics.js';
import type { RouteTarget } from '../edge/routing-table.js';
import { Poller } from '../lib/poller.js';
import { WakeListener, type WakeTarget } from '../lib/wake-listener.js';
import type { Store } from '../store/store.js';
import { artifactOf } from './artifact.js';
import type { DeploymentLogs } from './deployment-log.js';
import type { Replicas } from './replicas.js';
import type { RouteSync } from './route-sync.js';

const KIND = 'deployment' as const;
/** Deployments recorded before sleepAfterSeconds existed sleep after Railway's 10 minutes. */
const DEFAULT_SLEEP_AFTER_SECONDS = 600;
const DEFAULT_POLL_MS = 500;
/** The edge's counters miss nothing between reads, so they are read a quarter period apart, at most every 5 s. */
const MAX_COUNT_INTERVAL_MS = 5000;

export interface AppSleepDeps {
  store: Store;
  replicas: Replicas;
  routes: RouteSync;
  edge: EdgeDriver;
  logs: DeploymentLogs;
  logger: Logger;
  /** Runs fn in the service's deployment queue: never alongside a deploy, scale or restart of it. */
  inQueue: <T>(serviceId: string, environmentId: string, fn: () => Promise<T>) => Promise<T>;
  pollMs?: number;
}

/** What a deployment looked like at the last count: its request counter and when it last saw traffic. */
interface Seen {
  requests: number;
  at: number;
}

/** Whether d is an app that asked to sleep and can: replicas of a start command, no cron schedule. */
function wantsSleep(d: Deployment): boolean {
  const deploy = d.config?.deploy;
  return !!deploy?.sleepApplication && !deploy.cronSchedule && artifactOf(d).kind === 'process';
}

function periodOf(d: Deployment): number {
  return d.config?.deploy.sleepAfterSeconds ?? DEFAULT_SLEEP_AFTER_SECONDS;
}

export class AppSleep {
  /** By deployment id: the listener an asleep deployment's route points at. */
  private readonly listeners = new Map<string, WakeListener>();
  private readonly seen = new Map<string, Seen>();
  /** Deployments told (in their log) that a worker does not sleep. */
  private readonly workersTold = new Set<string>();
  /** Sleeps and wakes queued or running, by deployment id: not acted on twice. */
  private readonly busy = new Set<string>();
  private readonly poller: Poller;
  private nextCountAt = 0;

  constructor(private readonly deps: AppSleepDeps) {
    this.poller = new Poller({
      everyMs: deps.pollMs ?? DEFAULT_POLL_MS,
      round: () => this.count(),
      onError: (err) => deps.logger.warn(`sleepApplication: ${errorMessage(err)}`),
    });
    deps.routes.sleeping = (deploymentId) => this.routeTarget(deploymentId);
  }

  /** At daemon start, before the first routing sync: listeners for the deployments that sleep. */
  async start(): Promise<void> {
    const { store } = this.deps;
    for (const d of store.deployments.listActive()) {
      if (store.sleepStates.isAsleep(KIND, d.id)) await this.listen(d);
    }
    this.poller.start();
  }

  close(): void {
    this.poller.stop();
    for (const l of this.listeners.values()) l.destroy();
    this.listeners.clear();
  }

  isAsleep(deploymentId: string): boolean {
    return this.deps.store.sleepStates.isAsleep(KIND, deploymentId);
  }

  /** Where the edge sends an asleep deployment's traffic (null: awake, its replicas take it). */
  private routeTarget(deploymentId: string): RouteTarget | null {
    const l = this.listeners.get(deploymentId);
    if (!l || !this.isAsleep(deploymentId)) return null;
    return { id: `wake:${deploymentId}`, host: '127.0.0.1', port: l.port };
  }

  /**
   * Reads the edge's counters; a deployment with no new request and none in flight for its period sleeps. Only
   * active deployments that set sleepApplication are read (in SQL): with none, a round costs one small query.
   */
  private async count(): Promise<void> {
    const { store, edge } = this.deps;
    const sleepy = store.deployments.listActiveSleepy();
    this.forgetInactive(new Set(sleepy.map((d) => d.id)));
    const candidates = sleepy.filter((d) => wantsSleep(d) && !this.isAsleep(d.id) && !this.busy.has(d.id));
    const now = Date.now();
    if (candidates.length === 0 || now < this.nextCountAt) return;
    const shortest = Math.min(...candidates.map(periodOf));
    this.nextCountAt = now + Math.min(MAX_COUNT_INTERVAL_MS, (shortest * 1000) / 4);
    const [metrics, stats] = await Promise.all([edge.metrics(), edge.stats()]);
    for (const d of candidates) {
      const replicas = store.workloads.ofDeployment(d.id).filter((w) => w.ownerKind === 'replica');
      if (replicas.some((w) => w.worker)) {
        this.tellWorker(d);
        continue;
      }
      const snap = metrics.services[serviceIdsKey(d.serviceId, d.environmentId)]?.deployments[d.id];
      const requests = (snap?.requests ?? 0) + (snap?.tunnels ?? 0);
      const inFlight =
        (snap?.active ?? 0) + replicas.reduce((n, w) => n + (stats.targets[w.id]?.active ?? 0), 0);
      const last = this.seen.get(d.id);
      if (!last || last.requests !== requests || inFlight > 0) {
        this.seen.set(d.id, { requests, at: now });
        continue;
      }
      const after = periodOf(d);
      const running = replicas.some((w) => w.state === 'running');
      if (running && now - last.at >= after * 1000) void this.sleep(d, after);
    }
  }

  /** Listener first, then the route moves to it, then the replicas drain and stop (in the service's queue). */
  private sleep(d: Deployment, after: number): Promise<void> {
    const { store, replicas, logs } = this.deps;
    this.busy.add(d.id);
    return this.deps
      .inQueue(d.serviceId, d.environmentId, async () => {
        if (store.deployments.findActiveId(d.serviceId, d.environmentId) !== d.id) return;
        const live = store.workloads
          .ofDeployment(d.id)
          .filter((w) => w.ownerKind === 'replica' && w.state !== 'exited' && w.state !== 'crashed');
        await this.listen(d);
        store.sleepStates.setAsleep(KIND, d.id, true);
        logs.log(d.id, 'deploy', 'system', `No request for ${after}s (sleepAfterSeconds): sleeping`);
        await replicas.retireSome(d, live, { overlap: false });
      })
      .catch((err) => this.deps.logger.warn(`could not put ${d.id} to sleep: ${errorMessage(err)}`))
      .finally(() => this.busy.delete(d.id));
  }

  private async listen(d: Deployment): Promise<void> {
    if (this.listeners.has(d.id)) return;
    const listener = await WakeListener.open({
      host: '127.0.0.1',
      port: 0,
      releaseOnWake: false,
      wake: () => this.wake(d),
      onWakeFailed: (err) => {
        this.deps.logger.warn(`could not wake ${d.id}: ${errorMessage(err)}`);
        this.listeners.delete(d.id);
        listener.close();
        // The route still points at a closed port until a fresh listener takes its place.
        if (this.isAsleep(d.id)) {
          void this.listen(d)
            .then(() => this.deps.routes.sync())
            .catch(() => undefined);
        }
      },
    });
    this.listeners.set(d.id, listener);
  }

  /**
   * The first connection to an asleep deployment: its replicas start (numReplicas, health-gated), the route
   * goes back to them, and the held connections are piped to them. A deployment replaced meanwhile (a deploy
   * while asleep) has nothing to start: the connections go to the active one's replicas.
   */
  private async wake(d: Deployment): Promise<WakeTarget[]> {
    const { store, replicas, logs } = this.deps;
    const t0 = Date.now();
    this.busy.add(d.id);
    try {
      await this.deps.inQueue(d.serviceId, d.environmentId, async () => {
        if (!this.isAsleep(d.id) || store.deployments.findActiveId(d.serviceId, d.environmentId) !== d.id)
          return;
        // Read again: a `berth scale` while it slept changed its count after this listener opened.
        const now = store.deployments.get(d.id);
        const n = now.config?.deploy.numReplicas ?? 1;
        const artifact = artifactOf(now);
        // Replicas a `berth scale` started while it slept are kept; only the missing slots start.
        const used = new Set(
          store.workloads
            .ofDeployment(d.id)
            .filter((w) => w.ownerKind === 'replica' && w.state === 'running')
            .map((w) => w.slot),
        );
        const started: string[] = [];
        try {
          for (let slot = 0; slot < n; slot++)
            if (!used.has(slot)) started.push((await replicas.launch(now, artifact, slot)).id);
          await Promise.all(started.map((id) => replicas.gate(now, id, new AbortController().signal)));
        } catch (err) {
          await replicas.discard(started);
          throw err;
        }
        store.sleepStates.setAsleep(KIND, d.id, false);
        this.seen.delete(d.id);
        await this.deps.routes.sync();
        logs.log(
          d.id,
          'deploy',
          'system',
          `Woke on a request: ${n} replica(s) healthy in ${Date.now() - t0} ms`,
        );
      });
    } finally {
      this.busy.delete(d.id);
    }
    const activeId = store.deployments.findActiveId(d.serviceId, d.environmentId);
    const targets = (activeId ? store.workloads.ofDeployment(activeId) : [])
      .filter((w) => w.ownerKind === 'replica' && w.state === 'running' && !w.worker)
      .map((w) => ({ host: '127.0.0.1', port: w.ports.http ?? 0 }));
    // The edge has the replicas now; connections still on their way here are piped until it closes.
    const listener = this.listeners.get(d.id);
    this.listeners.delete(d.id);
    setTimeout(() => listener?.close(), 5000).unref();
    return targets;
  }

  /**
   * Listeners of deployments no longer active (a deploy, `berth down`) close once nothing waits on them. `active`
   * holds the active deployments that set sleepApplication: only those ever have a listener or a count.
   */
  private forgetInactive(active: Set<string>): void {
    for (const [id, l] of this.listeners) {
      if (active.has(id) || l.woken) continue;
      l.close();
      this.listeners.delete(id);
    }
    for (const id of this.seen.keys()) if (!active.has(id)) this.seen.delete(id);
  }

  private tellWorker(d: Deployment): void {
    if (this.workersTold.has(d.id)) return;
    this.workersTold.add(d.id);
    this.deps.logs.log(
      d.id,
      'deploy',
      'system',
      'sleepApplication has no effect here: this service is a worker (it serves no HTTP), so no request could wake it',
      { level: 'warn' },
    );
  }
}
