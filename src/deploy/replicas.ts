import fs from 'node:fs';
import path from 'node:path';
import type { BuildResult } from '../build/types.js';
import { summarizeFailure } from '../core/failure-cause.js';
import type { Deployment, ServiceConfig } from '../core/model.js';
import type { EdgeDriver } from '../edge/driver.js';
import { freePort } from '../lib/net.js';
import { delay } from '../lib/wait.js';
import { LogTail, type ProcessDriver, parseLogLine } from '../runtime/index.js';
import type { ExitInfo, ProcessHandle } from '../runtime/types.js';
import type { StoredInstance } from '../store/instances.js';
import type { Store } from '../store/store.js';
import { artifactOf } from './artifact.js';
import { baseEnvironment, providedVariables, type SiteOptions, scopeOf } from './context.js';
import type { DeploymentLogs } from './deployment-log.js';
import { HealthCheckFailed, waitHealthy } from './health.js';
import type { DataPaths } from './paths.js';
import type { RouteSync } from './route-sync.js';
import type { SandboxUsers } from './sandbox-users.js';

export interface ReplicaDeps {
  store: Store;
  logs: DeploymentLogs;
  driver: ProcessDriver;
  paths: DataPaths;
  routes: RouteSync;
  edge: EdgeDriver;
  site: SiteOptions;
  /** Who replicas and cron runs run as (sandboxed), or as the daemon when the sandbox is off. */
  sandboxUsers: SandboxUsers;
  /** Called when supervision decides a deployment crashed (restart limit reached). */
  onCrashed: (deploymentId: string, reason: string) => void;
}

/** Without a healthcheckPath, a replica that runs this long without listening is taken for a worker. */
const WORKER_GRACE_MS = 10_000;
/** Size at which a replica's raw output file is emptied once read (see LogTail's truncateAfterBytes). */
const INSTANCE_OUTPUT_BYTES = 8 * 1024 * 1024;
/** How long an old replica may keep requests in flight after traffic has moved away from it. */
const IN_FLIGHT_DRAIN_MS = 30_000;

interface Watched {
  handle: ProcessHandle;
  unwatch: () => void;
  tails: LogTail[];
  exited: Promise<ExitInfo>;
}

/** Output lines of a failed replica searched for the cause of its failure. */
const CAUSE_LINES = 200;

function describeExit(info: ExitInfo): string {
  if (info.signal) return `was killed by ${info.signal}`;
  if (info.code === null) return 'exited (exit code unknown: it ended while Berth was not running)';
  return `exited with code ${info.code}`;
}

/**
 * Runs the replicas of deployments as host processes: launch, health gate, restart policy
 * with backoff, adoption after a daemon restart, and draining teardown.
 */
export class Replicas {
  private readonly watched = new Map<string, Watched>();
  private readonly supervising = new Set<string>();

  constructor(private readonly deps: ReplicaDeps) {}

  private envFor(d: Deployment, artifact: BuildResult, inst: StoredInstance): Record<string, string> {
    const scope = scopeOf(this.deps.store, d, this.deps.site);
    return {
      ...baseEnvironment(),
      ...providedVariables(scope),
      ...artifact.runtimeEnv,
      ...d.variables,
      ...providedVariables(scope, { id: inst.id, port: inst.port }),
    };
  }

  /**
   * The port a replica listens on: always a free one of its own, in $PORT. A PORT variable names the
   * service's private port instead (deploy/private-network.ts), so replicas and overlapping deploys
   * never fight over one port.
   */
  portFor(): Promise<number> {
    return freePort();
  }

  /** Creates the instance row and starts its process. */
  async launch(d: Deployment, artifact: BuildResult, replica: number): Promise<StoredInstance> {
    const inst = this.deps.store.instances.create(d.id, replica, await this.portFor());
    this.spawn(d, artifact, inst);
    return this.deps.store.instances.get(inst.id);
  }

  /** Starts one run of a cron service's start command; the scheduler decides when. */
  async runJob(d: Deployment, artifact: BuildResult): Promise<StoredInstance> {
    const inst = this.deps.store.instances.create(d.id, 0, await this.portFor());
    this.spawn(d, artifact, inst, 'job');
    return this.deps.store.instances.get(inst.id);
  }

  /** True while a cron run of this deployment is still going (the next one is then skipped). */
  jobRunning(deploymentId: string): boolean {
    return this.deps.store.instances.of(deploymentId).some((i) => i.state === 'job');
  }

  private spawn(
    d: Deployment,
    artifact: BuildResult,
    inst: StoredInstance,
    state: 'starting' | 'job' = 'starting',
  ): void {
    if (!d.artifactPath || !artifact.startCommand) throw new Error(`deployment ${d.id} has no start command`);
    const stdoutPath = this.deps.paths.instanceOutput(inst.id, 'stdout');
    const stderrPath = this.deps.paths.instanceOutput(inst.id, 'stderr');
    fs.mkdirSync(path.dirname(stdoutPath), { recursive: true });
    const handle = this.deps.driver.start({
      id: inst.id,
      cwd: path.join(d.artifactPath, 'app'),
      command: artifact.startCommand,
      env: this.envFor(d, artifact, inst),
      stdoutPath,
      stderrPath,
      // Replicas and cron runs outlive the daemon: no dying with it.
      sandbox: this.deps.sandboxUsers.forRuntime(d, artifact, false),
    });
    this.deps.store.instances.update(inst.id, {
      pid: handle.pid,
      pidStartTime: handle.startTime,
      state,
    });
    this.attach(inst, handle, true);
  }

  /** Follows the process: its exit and its output. */
  private attach(inst: StoredInstance, handle: ProcessHandle, fresh: boolean): void {
    this.detach(inst.id);
    const fromOut = fresh
      ? this.sizeOf(this.deps.paths.instanceOutput(inst.id, 'stdout'))
      : inst.stdoutOffset;
    const fromErr = fresh
      ? this.sizeOf(this.deps.paths.instanceOutput(inst.id, 'stderr'))
      : inst.stderrOffset;
    const tail = (stream: 'stdout' | 'stderr', from: number) =>
      new LogTail(
        this.deps.paths.instanceOutput(inst.id, stream),
        from,
        (raw) => {
          const parsed = parseLogLine(raw, stream);
          this.deps.logs.log(inst.deploymentId, 'deploy', stream, parsed.message, {
            level: parsed.level,
            replica: inst.replica,
            ...(parsed.attributes ? { attributes: parsed.attributes } : {}),
          });
        },
        {
          // The raw file is only a buffer between the app and the deployment log (which is rotated).
          truncateAfterBytes: INSTANCE_OUTPUT_BYTES,
          onDropped: (bytes) =>
            this.deps.logs.log(
              inst.deploymentId,
              'deploy',
              'system',
              `replica ${inst.replica} wrote ${stream} faster than Berth can store it; ${bytes} bytes of it were dropped`,
              { level: 'warn', replica: inst.replica },
            ),
        },
      );
    const tails = [tail('stdout', fromOut), tail('stderr', fromErr)];
    let resolveExit!: (i: ExitInfo) => void;
    const exited = new Promise<ExitInfo>((r) => {
      resolveExit = r;
    });
    const unwatch = this.deps.driver.watch(handle, (info) => {
      for (const t of tails) t.drain();
      resolveExit(info);
      void this.onExit(inst.id, handle, info);
    });
    this.watched.set(inst.id, { handle, unwatch, tails, exited });
  }

  private sizeOf(file: string): number {
    try {
      return fs.statSync(file).size;
    } catch {
      return 0;
    }
  }

  private detach(instanceId: string): void {
    const w = this.watched.get(instanceId);
    if (!w) return;
    w.unwatch();
    for (const t of w.tails) {
      t.drain();
      t.close();
    }
    this.watched.delete(instanceId);
  }

  /** Persists log offsets so a restarted daemon resumes tails without repeating lines. */
  saveOffsets(): void {
    for (const [id, w] of this.watched) {
      this.deps.store.instances.update(id, {
        stdoutOffset: w.tails[0].offset(),
        stderrOffset: w.tails[1].offset(),
      });
    }
  }

  /** Health-gates one starting replica; on success it is marked running (but not yet routed). */
  async gate(d: Deployment, instanceId: string, signal: AbortSignal): Promise<void> {
    const config = d.config as ServiceConfig;
    const inst = this.deps.store.instances.get(instanceId);
    const w = this.watched.get(instanceId);
    if (!w) throw new HealthCheckFailed(`replica ${inst.replica} is not running`);
    const scope = scopeOf(this.deps.store, d, this.deps.site);
    const lastLines = () => {
      const cause = this.causeOf(d, inst.replica);
      return cause ? `: ${cause}` : '';
    };
    const exited = w.exited.then(
      (info) => `replica ${inst.replica} ${describeExit(info)} before it became healthy${lastLines()}`,
    );
    const path = config.deploy.healthcheckPath;
    const timeoutMs = path === null ? WORKER_GRACE_MS : config.deploy.healthcheckTimeout * 1000;
    try {
      await waitHealthy({ port: inst.port, path, hostHeader: scope.hostname, timeoutMs, signal, exited });
    } catch (err) {
      if (path !== null || !(err instanceof HealthCheckFailed) || !this.deps.driver.isAlive(w.handle))
        throw err;
      this.deps.logs.log(
        d.id,
        'deploy',
        'system',
        `replica ${inst.replica} is running but does not listen on $PORT; treating it as a worker that serves no HTTP traffic`,
      );
    }
    this.deps.store.instances.update(instanceId, { state: 'running' });
  }

  /** Kills replicas right away (a failed deployment's, never one that serves). */
  async discard(instanceIds: string[]): Promise<void> {
    await Promise.all(instanceIds.map((id) => this.stopInstance(id, 0)));
  }

  private async stopInstance(instanceId: string, graceMs: number): Promise<void> {
    this.deps.store.instances.update(instanceId, { state: 'stopping' });
    const inst = this.deps.store.instances.get(instanceId);
    const w = this.watched.get(instanceId);
    const handle =
      w?.handle ?? (inst.pid && inst.pidStartTime ? { pid: inst.pid, startTime: inst.pidStartTime } : null);
    const info = handle ? await this.deps.driver.stop(handle, graceMs) : null;
    this.detach(instanceId);
    this.deps.store.instances.update(instanceId, {
      state: 'exited',
      pid: null,
      exitCode: info?.code ?? null,
    });
  }

  /**
   * Takes an old deployment out of service after traffic moved away: overlapSeconds, then wait
   * for in-flight requests, then SIGTERM, drainingSeconds, SIGKILL.
   */
  async retire(d: Deployment): Promise<void> {
    const live = this.deps.store.instances
      .of(d.id)
      .filter((i) => i.state !== 'exited' && i.state !== 'crashed');
    for (const i of live) this.deps.store.instances.update(i.id, { state: 'stopping' });
    const overlap = d.config?.deploy.overlapSeconds ?? 0;
    const draining = d.config?.deploy.drainingSeconds ?? 0;
    if (overlap > 0) await delay(overlap * 1000);
    await this.deps.edge.waitIdle(
      live.map((i) => i.id),
      IN_FLIGHT_DRAIN_MS,
    );
    await Promise.all(live.map((i) => this.stopInstance(i.id, draining * 1000)));
  }

  /** After a daemon restart: follow replicas that are still alive; returns the ones that died meanwhile. */
  adopt(): StoredInstance[] {
    const dead: StoredInstance[] = [];
    for (const inst of this.deps.store.instances.live()) {
      const handle = inst.pid && inst.pidStartTime ? { pid: inst.pid, startTime: inst.pidStartTime } : null;
      if (handle && this.deps.driver.isAlive(handle)) {
        this.attach(inst, handle, false);
      } else {
        dead.push(inst);
      }
    }
    return dead;
  }

  /** Re-applies restart policy to a replica found dead at start-up. */
  handleFoundDead(inst: StoredInstance): void {
    void this.onExit(inst.id, null, { code: null, signal: null });
  }

  private isActive(d: Deployment): boolean {
    return this.deps.store.deployments.findActiveId(d.serviceId, d.environmentId) === d.id;
  }

  private async onExit(instanceId: string, handle: ProcessHandle | null, info: ExitInfo): Promise<void> {
    const w = this.watched.get(instanceId);
    if (handle && w && w.handle.pid !== handle.pid) return; // an older process of a restarted replica
    // A supervise loop in progress awaits this exit itself.
    if (this.supervising.has(instanceId)) return;
    this.detach(instanceId);
    const inst = this.deps.store.instances.get(instanceId);
    // Expected stops, and replicas still in their first health gate (the gate reports those), need no policy.
    if (inst.state === 'stopping' || inst.state === 'exited' || inst.state === 'crashed') {
      this.deps.store.instances.update(instanceId, { state: 'exited', pid: null, exitCode: info.code });
      return;
    }
    const d = this.deps.store.deployments.get(inst.deploymentId);
    if (inst.state === 'job') {
      this.deps.store.instances.update(instanceId, { state: 'exited', pid: null, exitCode: info.code });
      this.deps.logs.log(d.id, 'deploy', 'system', `cron run ${describeExit(info)}`, {
        level: info.code === 0 ? 'info' : 'error',
      });
      return;
    }
    if (inst.state === 'starting' && !this.supervising.has(instanceId)) {
      this.deps.store.instances.update(instanceId, { state: 'exited', pid: null, exitCode: info.code });
      return;
    }
    if (!this.isActive(d)) {
      this.deps.store.instances.update(instanceId, { state: 'exited', pid: null, exitCode: info.code });
      return;
    }
    this.supervising.add(instanceId);
    try {
      await this.supervise(d, inst, info);
    } finally {
      this.supervising.delete(instanceId);
    }
  }

  /** Why a replica failed, from its recent output (a bounded tail of the deployment's log). */
  private causeOf(d: Deployment, replica: number): string {
    const lines = this.deps.logs.lastLines(
      d.id,
      CAUSE_LINES,
      (l) => l.replica === replica && l.phase === 'deploy' && l.stream !== 'system',
    );
    return summarizeFailure(lines);
  }

  private causeSuffix(d: Deployment, replica: number): string {
    const cause = this.causeOf(d, replica);
    return cause ? `: ${cause}` : '';
  }

  /** Restart policy for one replica of an active deployment, with exponential backoff. */
  private async supervise(d: Deployment, inst: StoredInstance, info: ExitInfo): Promise<void> {
    const config = d.config as ServiceConfig;
    const artifact = artifactOf(d);
    let exit = info;
    let restarts = inst.restarts;
    for (;;) {
      this.deps.store.instances.update(inst.id, {
        state: 'exited',
        pid: null,
        exitCode: exit.code,
        restarts,
      });
      await this.deps.routes.sync().catch(() => undefined);
      const failed = exit.code !== 0;
      const policy = config.deploy.restartPolicyType;
      const restart = policy === 'ALWAYS' || (policy === 'ON_FAILURE' && failed);
      const what = `replica ${inst.replica} ${describeExit(exit)}`;
      if (!restart) {
        if (failed) {
          this.deps.store.instances.update(inst.id, { state: 'crashed' });
          this.deps.onCrashed(
            d.id,
            `${what} and restartPolicyType is ${policy}, so it was not restarted${this.causeSuffix(d, inst.replica)}`,
          );
        } else {
          this.deps.logs.log(
            d.id,
            'deploy',
            'system',
            `${what}; restartPolicyType ${policy} does not restart clean exits`,
          );
        }
        return;
      }
      if (restarts >= config.deploy.restartPolicyMaxRetries) {
        this.deps.store.instances.update(inst.id, { state: 'crashed' });
        this.deps.onCrashed(
          d.id,
          `${what} and was restarted ${restarts} times (restartPolicyMaxRetries = ${config.deploy.restartPolicyMaxRetries}); giving up${this.causeSuffix(d, inst.replica)}`,
        );
        return;
      }
      restarts += 1;
      const backoff = Math.min(500 * 2 ** (restarts - 1), 30_000);
      this.deps.logs.log(
        d.id,
        'deploy',
        'system',
        `${what}; restarting it in ${backoff / 1000}s (restart ${restarts} of ${config.deploy.restartPolicyMaxRetries})`,
        { level: 'warn' },
      );
      this.deps.store.instances.update(inst.id, { state: 'restarting', restarts });
      await delay(backoff);
      const current = this.deps.store.deployments.get(d.id);
      if (!this.isActive(current) || this.deps.store.instances.get(inst.id).state !== 'restarting') return;
      try {
        this.spawn(current, artifact, this.deps.store.instances.get(inst.id));
        await this.gate(current, inst.id, new AbortController().signal);
        await this.deps.routes.sync();
        this.deps.logs.log(d.id, 'deploy', 'system', `replica ${inst.replica} is healthy again`);
        return;
      } catch (err) {
        const w = this.watched.get(inst.id);
        if (w && this.deps.driver.isAlive(w.handle)) await this.deps.driver.stop(w.handle, 0);
        exit = w ? await w.exited : { code: null, signal: null };
        this.detach(inst.id);
        if (err instanceof HealthCheckFailed) {
          this.deps.logs.log(d.id, 'deploy', 'system', `restart ${restarts} failed: ${err.message}`, {
            level: 'warn',
          });
        }
      }
    }
  }

  close(): void {
    this.saveOffsets();
    for (const id of [...this.watched.keys()]) this.detach(id);
  }
}
