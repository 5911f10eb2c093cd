import fs from 'node:fs';
import path from 'node:path';
import type { BuildResult } from '../build/types.js';
import { summarizeFailure } from '../core/failure-cause.js';
import type { Deployment, ServiceConfig } from '../core/model.js';
import type { EdgeDriver } from '../edge/driver.js';
import { freePort } from '../lib/net.js';
import { delay } from '../lib/wait.js';
import { parseLogLine, type ResourceLimits } from '../runtime/index.js';
import { processArgv } from '../runtime/process-argv.js';
import { sandboxEnv } from '../runtime/sandbox.js';
import {
  describeExit,
  type RestartPlan,
  type Supervisor,
  type WorkloadHooks,
} from '../runtime/supervisor.js';
import type { ExitInfo } from '../runtime/types.js';
import type { Store } from '../store/store.js';
import { DEPLOYMENT_KINDS, type StoredWorkload } from '../store/workloads.js';
import { artifactOf } from './artifact.js';
import { policyOf } from './autoscaler.js';
import { baseEnvironment, providedVariables, type SiteOptions, scopeOf } from './context.js';
import type { DeploymentLogs } from './deployment-log.js';
import { HealthCheckFailed, waitHealthy } from './health.js';
import type { DataPaths } from './paths.js';
import { replicaLimits } from './resource-limits.js';
import type { RouteSync } from './route-sync.js';
import type { SandboxUsers } from './sandbox-users.js';

export interface ReplicaDeps {
  store: Store;
  logs: DeploymentLogs;
  /** Runs, follows and restarts the replicas' processes. */
  supervisor: Supervisor;
  paths: DataPaths;
  routes: RouteSync;
  edge: EdgeDriver;
  site: SiteOptions;
  /** Who replicas and cron runs run as (sandboxed), or as the daemon when the sandbox is off. */
  sandboxUsers: SandboxUsers;
  /** Called when supervision decides a deployment crashed (restart limit reached). */
  onCrashed: (deploymentId: string, reason: string) => void;
  /** Called when a cron run ends on its own (cron.ts records it). */
  onJobExit?: (workloadId: string, info: ExitInfo) => void;
}

/** `berth status`'s view of autoscaling and limits (the API contract's autoscaleStatus and limitsStatus). */
interface AutoscaleStatus {
  minReplicas: number;
  maxReplicas: number;
  targetCPUPercent: number;
}
interface LimitsStatus {
  memoryBytes: number | null;
  cpus: number | null;
  pids: number | null;
  notEnforced: string | null;
  oomKills: number;
}

/** The port a replica's $PORT names. */
const portOf = (w: StoredWorkload): number => w.ports.http ?? 0;

/** Without a healthcheckPath, a replica that runs this long without listening is taken for a worker. */
const DEFAULT_WORKER_STABILITY_SECONDS = 3;

/** deploy.workerStabilitySeconds in ms (deployments recorded before the field existed have the default). */
export function workerStabilityMs(config: ServiceConfig): number {
  return (config.deploy.workerStabilitySeconds ?? DEFAULT_WORKER_STABILITY_SECONDS) * 1000;
}
/** Size at which a replica's raw output file is emptied once read (see LogTail's truncateAfterBytes). */
const INSTANCE_OUTPUT_BYTES = 8 * 1024 * 1024;
/** How long an old replica may keep requests in flight after traffic has moved away from it. */
const IN_FLIGHT_DRAIN_MS = 30_000;

/** Output lines of a failed replica searched for the cause of its failure. */
const CAUSE_LINES = 200;

/**
 * What a replica is: its environment, its port, its health gate, its place in the routing table. The
 * supervisor (runtime/supervisor.ts) runs it, follows its output and restarts it by policy.
 */
export class Replicas {
  /** Replicas being stopped on purpose: a restart loop running for one of them must not bring it back. */
  private readonly stopRequested = new Set<string>();
  /** Deployments whose limits were logged (once each, at their first replica's start in this daemon). */
  private readonly limitsLogged = new Set<string>();

  constructor(private readonly deps: ReplicaDeps) {}

  private envFor(d: Deployment, artifact: BuildResult, inst: StoredWorkload): Record<string, string> {
    const scope = scopeOf(this.deps.store, d, this.deps.site);
    return {
      ...baseEnvironment(),
      ...providedVariables(scope),
      ...artifact.runtimeEnv,
      ...d.variables,
      ...providedVariables(scope, { id: inst.id, port: portOf(inst) }),
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

  /**
   * What `berth ssh` runs in a replica's world: the replica's working directory, environment, user and sandbox
   * (a fresh one with the same binds; it dies with the daemon), `program` as an argv (never through a shell),
   * inside the replica's limits (its cgroup, joined before anything runs). Null while the replica is not
   * followed (between two starts of a restart).
   */
  execSpec(
    d: Deployment,
    inst: StoredWorkload,
    program: readonly string[],
  ): { argv: string[]; cwd: string; env: Record<string, string> } | null {
    const handle = this.deps.supervisor.handleOf(inst.id);
    if (!handle) return null;
    const artifact = artifactOf(d);
    const cwd = path.join(d.artifactPath as string, 'app');
    const sandbox = this.deps.sandboxUsers.forRuntime(d, artifact, true);
    const env = this.envFor(d, artifact, inst);
    return {
      argv: [
        ...this.deps.supervisor.driver.joinArgv(handle),
        ...processArgv({ program: { argv: program }, cwd, sandbox, prlimit: null }),
      ],
      cwd: sandbox ? '/' : cwd,
      env: sandbox ? sandboxEnv(env, sandbox) : env,
    };
  }

  /** Creates the instance row and starts its process. */
  async launch(d: Deployment, artifact: BuildResult, replica: number): Promise<StoredWorkload> {
    const inst = await this.create(d.id, replica, 'replica');
    await this.spawn(d, artifact, inst);
    return this.deps.store.workloads.get(inst.id);
  }

  /** Starts one run of a cron service's start command; the scheduler decides when. */
  async runJob(d: Deployment, artifact: BuildResult): Promise<StoredWorkload> {
    const inst = await this.create(d.id, 0, 'cron-run');
    await this.spawn(d, artifact, inst, 'job');
    return this.deps.store.workloads.get(inst.id);
  }

  /** Stops a cron run (its time limit): SIGTERM, graceMs, SIGKILL; resolves once it is gone. */
  stopJob(workloadId: string, graceMs: number): Promise<void> {
    return this.stopInstance(workloadId, graceMs);
  }

  /** True while a cron run of this deployment is still going (the next one is then skipped). */
  jobRunning(deploymentId: string): boolean {
    return this.deps.store.workloads.ofDeployment(deploymentId).some((i) => i.state === 'job');
  }

  /** The workload row of a new replica (or cron run) of d, on a free port of its own. */
  private async create(
    deploymentId: string,
    slot: number,
    kind: 'replica' | 'cron-run',
  ): Promise<StoredWorkload> {
    const ports = { http: await this.portFor() };
    return this.deps.store.workloads.create({
      ownerKind: kind,
      ownerId: deploymentId,
      slot,
      ports,
      state: 'starting',
    });
  }

  private async spawn(
    d: Deployment,
    artifact: BuildResult,
    inst: StoredWorkload,
    state: 'starting' | 'job' = 'starting',
  ): Promise<void> {
    if (!d.artifactPath || !artifact.startCommand) throw new Error(`deployment ${d.id} has no start command`);
    const logs = this.logFiles(inst.id);
    fs.mkdirSync(path.dirname(logs.stdout), { recursive: true });
    const limits = this.limitsFor(d);
    const handle = await this.deps.supervisor.start(
      {
        id: inst.id,
        cwd: path.join(d.artifactPath, 'app'),
        command: artifact.startCommand,
        env: this.envFor(d, artifact, inst),
        ports: { http: portOf(inst) },
        logs,
        // Replicas and cron runs outlive the daemon: no dying with it.
        sandbox: this.deps.sandboxUsers.forRuntime(d, artifact, false),
        limits,
      },
      this.hooks(inst),
    );
    this.deps.store.workloads.update(inst.id, { handle, state });
  }

  /** The limits of d's replicas here; the first time, the deployment log says what they are or why not. */
  private limitsFor(d: Deployment): ResourceLimits {
    const rl = replicaLimits((d.config as ServiceConfig).deploy, this.deps.supervisor.driver);
    if (!this.limitsLogged.has(d.id)) {
      this.limitsLogged.add(d.id);
      if (rl.notEnforced) this.deps.logs.log(d.id, 'deploy', 'system', rl.notEnforced, { level: 'warn' });
      if (rl.summary) this.deps.logs.log(d.id, 'deploy', 'system', `Limits per replica: ${rl.summary}`);
    }
    return rl.limits;
  }

  /** For `berth status`: autoscaling range, and limits with what came of them (absent when not configured). */
  scalingStatus(d: Deployment): { autoscale?: AutoscaleStatus; limits?: LimitsStatus } {
    const deploy = d.config?.deploy;
    if (!deploy) return {};
    const policy = policyOf(deploy);
    const out: { autoscale?: AutoscaleStatus; limits?: LimitsStatus } = {};
    if (policy)
      out.autoscale = {
        minReplicas: policy.min,
        maxReplicas: policy.max,
        targetCPUPercent: policy.targetPercent,
      };
    const rl = replicaLimits(deploy, this.deps.supervisor.driver);
    if (rl.configured) {
      out.limits = {
        memoryBytes: deploy.memoryLimit ?? null,
        cpus: deploy.cpuLimit ?? null,
        pids: rl.limits.pids ?? deploy.pidsLimit ?? null,
        notEnforced: rl.notEnforced,
        oomKills: this.deps.store.workloads.ofDeployment(d.id).reduce((n, w) => n + w.oomKills, 0),
      };
    }
    return out;
  }

  private logFiles(instanceId: string): { stdout: string; stderr: string } {
    return {
      stdout: this.deps.paths.instanceOutput(instanceId, 'stdout'),
      stderr: this.deps.paths.instanceOutput(instanceId, 'stderr'),
    };
  }

  /** Its output goes to the deployment log; its exits to the restart policy. */
  private hooks(inst: StoredWorkload): WorkloadHooks {
    return {
      onLine: (raw, stream) => {
        const parsed = parseLogLine(raw, stream);
        this.deps.logs.log(inst.ownerId, 'deploy', stream, parsed.message, {
          level: parsed.level,
          replica: inst.slot,
          ...(parsed.attributes ? { attributes: parsed.attributes } : {}),
        });
      },
      // The raw file is only a buffer between the app and the deployment log (which is rotated).
      truncateAfterBytes: INSTANCE_OUTPUT_BYTES,
      onDropped: (stream, bytes) =>
        this.deps.logs.log(
          inst.ownerId,
          'deploy',
          'system',
          `replica ${inst.slot} wrote ${stream} faster than Berth can store it; ${bytes} bytes of it were dropped`,
          { level: 'warn', replica: inst.slot },
        ),
      onExit: (info) => void this.onExit(inst.id, info),
    };
  }

  /** Persists log offsets so a restarted daemon resumes tails without repeating lines. */
  saveOffsets(): void {
    for (const [id, o] of this.deps.supervisor.offsets()) {
      this.deps.store.workloads.update(id, { stdoutOffset: o.stdout, stderrOffset: o.stderr });
    }
  }

  /** Health-gates one starting replica; on success it is marked running (but not yet routed). */
  async gate(d: Deployment, instanceId: string, signal: AbortSignal): Promise<void> {
    const config = d.config as ServiceConfig;
    const inst = this.deps.store.workloads.get(instanceId);
    const running = this.deps.supervisor.exited(instanceId);
    if (!running) throw new HealthCheckFailed(`replica ${inst.slot} is not running`);
    const scope = scopeOf(this.deps.store, d, this.deps.site);
    const lastLines = () => {
      const cause = this.causeOf(d, inst.slot);
      return cause ? `: ${cause}` : '';
    };
    const exited = running.then(
      (info) => `replica ${inst.slot} ${describeExit(info)} before it became healthy${lastLines()}`,
    );
    const path = config.deploy.healthcheckPath;
    const timeoutMs = path === null ? workerStabilityMs(config) : config.deploy.healthcheckTimeout * 1000;
    try {
      await waitHealthy({ port: portOf(inst), path, hostHeader: scope.hostname, timeoutMs, signal, exited });
    } catch (err) {
      if (
        path !== null ||
        !(err instanceof HealthCheckFailed) ||
        !(await this.deps.supervisor.isAlive(instanceId))
      )
        throw err;
      this.deps.logs.log(
        d.id,
        'deploy',
        'system',
        `replica ${inst.slot} is still running after ${timeoutMs / 1000}s (workerStabilitySeconds) and does not listen on $PORT; treating it as a worker that serves no HTTP traffic`,
      );
      this.deps.store.workloads.update(instanceId, { worker: true });
    }
    this.deps.store.workloads.update(instanceId, { state: 'running' });
  }

  /** Kills replicas right away (a failed deployment's, never one that serves). */
  async discard(instanceIds: string[]): Promise<void> {
    await Promise.all(instanceIds.map((id) => this.stopInstance(id, 0)));
  }

  private async stopInstance(instanceId: string, graceMs: number): Promise<void> {
    this.deps.store.workloads.update(instanceId, { state: 'stopping' });
    const inst = this.deps.store.workloads.get(instanceId);
    const info = await this.deps.supervisor.stop(instanceId, graceMs, inst.handle);
    this.deps.store.workloads.update(instanceId, {
      state: 'exited',
      handle: null,
      exitCode: info?.code ?? null,
    });
  }

  /**
   * Takes an old deployment out of service after traffic moved away: overlapSeconds, then wait
   * for in-flight requests, then SIGTERM, drainingSeconds, SIGKILL.
   */
  async retire(d: Deployment): Promise<void> {
    const live = this.deps.store.workloads
      .ofDeployment(d.id)
      .filter((i) => i.state !== 'exited' && i.state !== 'crashed');
    await this.retireSome(d, live, { overlap: true });
  }

  /**
   * retire() for some replicas of d. Scaling down (`overlap: false`) takes them out of the routing table
   * first, then waits for their requests; no overlap, as nothing replaces them.
   */
  async retireSome(d: Deployment, live: StoredWorkload[], opts: { overlap: boolean }): Promise<void> {
    for (const i of live) {
      this.stopRequested.add(i.id);
      this.deps.store.workloads.update(i.id, { state: 'stopping' });
    }
    if (!opts.overlap) await this.deps.routes.sync();
    const overlap = opts.overlap ? (d.config?.deploy.overlapSeconds ?? 0) : 0;
    const draining = d.config?.deploy.drainingSeconds ?? 0;
    if (overlap > 0) await delay(overlap * 1000);
    await this.deps.edge.waitIdle(
      live.map((i) => i.id),
      IN_FLIGHT_DRAIN_MS,
    );
    await Promise.all(live.map((i) => this.stopInstance(i.id, draining * 1000)));
    for (const i of live) this.stopRequested.delete(i.id);
  }

  /**
   * Stops every replica of d now (SIGTERM, drainingSeconds, SIGKILL) and resolves once each process group is
   * gone: a singleton's handover. A restart loop of one of them ends first, so nothing comes back behind it.
   */
  async stopAll(d: Deployment): Promise<void> {
    const live = this.deps.store.workloads
      .ofDeployment(d.id)
      .filter((i) => i.state !== 'exited' && i.state !== 'crashed');
    for (const i of live) {
      this.stopRequested.add(i.id);
      this.deps.store.workloads.update(i.id, { state: 'stopping' });
    }
    try {
      await Promise.all(live.map((i) => this.deps.supervisor.restartSettled(i.id)));
      const draining = d.config?.deploy.drainingSeconds ?? 0;
      await Promise.all(live.map((i) => this.stopInstance(i.id, draining * 1000)));
    } finally {
      for (const i of live) this.stopRequested.delete(i.id);
    }
  }

  /** After a daemon restart: follow replicas that are still alive; returns the ones that died meanwhile. */
  async adopt(): Promise<StoredWorkload[]> {
    const dead: StoredWorkload[] = [];
    for (const inst of this.deps.store.workloads.live(DEPLOYMENT_KINDS)) {
      const offsets = { stdout: inst.stdoutOffset, stderr: inst.stderrOffset };
      const handle =
        inst.handle && (await this.deps.supervisor.adopt(inst.handle, offsets, this.hooks(inst)));
      if (!handle) dead.push(inst);
    }
    return dead;
  }

  /** Re-applies restart policy to a replica found dead at start-up. */
  handleFoundDead(inst: StoredWorkload): void {
    void this.onExit(inst.id, { code: null, signal: null });
  }

  private isActive(d: Deployment): boolean {
    return this.deps.store.deployments.findActiveId(d.serviceId, d.environmentId) === d.id;
  }

  private async onExit(instanceId: string, info: ExitInfo): Promise<void> {
    const inst = this.deps.store.workloads.get(instanceId);
    const exited = () =>
      this.deps.store.workloads.update(instanceId, { state: 'exited', handle: null, exitCode: info.code });
    // Expected stops, and replicas still in their first health gate (the gate reports those), need no policy.
    if (inst.state === 'stopping' || inst.state === 'exited' || inst.state === 'crashed') return exited();
    const d = this.deps.store.deployments.get(inst.ownerId);
    if (inst.state === 'job') {
      exited();
      this.deps.logs.log(d.id, 'deploy', 'system', `cron run ${describeExit(info)}`, {
        level: info.code === 0 ? 'info' : 'error',
      });
      this.deps.onJobExit?.(instanceId, info);
      return;
    }
    if (inst.state === 'starting' || !this.isActive(d)) return exited();
    await this.deps.supervisor.keepRunning(instanceId, info, this.restartPlan(d, inst));
  }

  /** The replica's side of a restart loop: its row, the routing table, the deployment log. */
  private restartPlan(d: Deployment, inst: StoredWorkload): RestartPlan {
    const { store, logs, routes } = this.deps;
    const config = d.config as ServiceConfig;
    const artifact = artifactOf(d);
    const system = (message: string, level?: 'warn') =>
      logs.log(d.id, 'deploy', 'system', message, level ? { level } : undefined);
    return {
      name: `replica ${inst.slot}`,
      policy: { type: config.deploy.restartPolicyType, maxRetries: config.deploy.restartPolicyMaxRetries },
      restarts: inst.restarts,
      down: async (exit, restarts) => {
        const oomKills = store.workloads.get(inst.id).oomKills + (exit.oomKilled ? 1 : 0);
        store.workloads.update(inst.id, {
          state: 'exited',
          handle: null,
          exitCode: exit.code,
          restarts,
          oomKills,
        });
        await routes.sync().catch(() => undefined);
      },
      restarting: (restarts) => store.workloads.update(inst.id, { state: 'restarting', restarts }),
      wanted: () =>
        !this.stopRequested.has(inst.id) &&
        this.isActive(store.deployments.get(d.id)) &&
        store.workloads.get(inst.id).state === 'restarting',
      respawn: () => this.spawn(store.deployments.get(d.id), artifact, store.workloads.get(inst.id)),
      gate: () => this.gate(store.deployments.get(d.id), inst.id, new AbortController().signal),
      healthy: () => routes.sync(),
      settled: (failed, message) => {
        if (!failed) return system(message);
        store.workloads.update(inst.id, { state: 'crashed' });
        this.deps.onCrashed(d.id, `${message}${this.causeSuffix(d, inst.slot)}`);
      },
      log: (level, message) => system(message, level === 'warn' ? 'warn' : undefined),
      isReportable: (err) => err instanceof HealthCheckFailed,
    };
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

  close(): void {
    this.saveOffsets();
    this.deps.supervisor.close();
  }
}
