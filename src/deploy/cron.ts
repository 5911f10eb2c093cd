import { Cron } from 'croner';
import { UserError } from '../core/errors.js';
import type { Deployment } from '../core/model.js';
import { describeExit } from '../runtime/supervisor.js';
import type { ExitInfo } from '../runtime/types.js';
import type { StoredCronRun } from '../store/cron-runs.js';
import type { Store } from '../store/store.js';
import { artifactOf } from './artifact.js';
import type { DeploymentLogs } from './deployment-log.js';
import type { Replicas } from './replicas.js';

/** A run with no limit of its own (deploy.cronTimeoutSeconds) is stopped after this long. */
export const DEFAULT_CRON_TIMEOUT_SECONDS = 3600;
/** Output lines kept with a run's record. */
const RUN_LOG_LINES = 200;

/**
 * Cron services (deploy.cronSchedule): instead of long-running replicas, the start command runs on
 * the schedule, in UTC like Railway, or by hand (`berth cron trigger`). Every run is recorded
 * (store/cron-runs.ts); a run still going when the next is due makes that one skip, recorded too;
 * a run past its time limit is stopped and recorded as timed out.
 */
export class CronScheduler {
  private readonly jobs = new Map<string, { deploymentId: string; cron: Cron }>();
  /** Time limits of running runs, by run id. */
  private readonly limits = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly store: Store,
    private readonly replicas: Replicas,
    private readonly logs: DeploymentLogs,
  ) {}

  /** Schedules every active cron deployment and unschedules replaced ones; safe to call any time. */
  sync(): void {
    const wanted = new Map<string, Deployment>();
    for (const d of this.store.deployments.listActive()) {
      if (d.config?.deploy.cronSchedule) wanted.set(`${d.serviceId}:${d.environmentId}`, d);
    }
    for (const [key, job] of this.jobs) {
      if (wanted.get(key)?.id !== job.deploymentId) {
        job.cron.stop();
        this.jobs.delete(key);
      }
    }
    for (const [key, d] of wanted) {
      if (this.jobs.has(key)) continue;
      const schedule = d.config?.deploy.cronSchedule as string;
      // UTC as Railway runs crons; utcOffset, not timezone: 'UTC', which loads ICU's time zone data (~8 MB RSS).
      // A tick must never throw into croner (the deployment may be gone by then); start() records what it can.
      const cron = new Cron(schedule, { utcOffset: 0 }, () => {
        this.start(d.id, 'schedule').catch(() => undefined);
      });
      this.jobs.set(key, { deploymentId: d.id, cron });
    }
    for (const run of this.store.cronRuns.running()) if (!this.limits.has(run.id)) this.armLimit(run);
  }

  nextRun(deploymentId: string): Date | null {
    for (const job of this.jobs.values()) if (job.deploymentId === deploymentId) return job.cron.nextRun();
    return null;
  }

  /** `berth cron trigger`: one run of the active deployment now (recorded as skipped if one still runs). */
  async trigger(serviceId: string, environmentId: string, serviceName: string): Promise<StoredCronRun> {
    const active = this.store.deployments.findActiveId(serviceId, environmentId);
    const d = active ? this.store.deployments.get(active) : null;
    if (!d?.config?.deploy.cronSchedule) {
      throw new UserError(
        `Service "${serviceName}" has no active cron deployment (deploy.cronSchedule); deploy it with a cronSchedule first.`,
        { status: 409, code: 'conflict' },
      );
    }
    return this.start(d.id, 'manual');
  }

  private async start(deploymentId: string, trigger: 'schedule' | 'manual'): Promise<StoredCronRun> {
    const d = this.store.deployments.get(deploymentId);
    const owner = { deploymentId: d.id, serviceId: d.serviceId, environmentId: d.environmentId, trigger };
    const going = this.store.cronRuns
      .running()
      .find((r) => r.serviceId === d.serviceId && r.environmentId === d.environmentId);
    if (going || this.replicas.jobRunning(d.id)) {
      const reason = going
        ? `the run started at ${going.startedAt} (${going.id}) was still running`
        : 'the previous run was still running';
      this.logs.log(d.id, 'deploy', 'system', `cron run skipped: ${reason}`, { level: 'warn' });
      return this.store.cronRuns.create({ ...owner, status: 'skipped', reason });
    }
    const run = this.store.cronRuns.create({ ...owner, status: 'running' });
    try {
      this.logs.log(d.id, 'deploy', 'system', `cron run starting (${trigger})`);
      const inst = await this.replicas.runJob(d, artifactOf(d));
      this.store.cronRuns.setWorkload(run.id, inst.id);
      this.armLimit(this.store.cronRuns.get(run.id));
    } catch (err) {
      const reason = `it could not start: ${(err as Error).message}`;
      this.logs.log(d.id, 'deploy', 'system', `cron run ${reason}`, { level: 'error' });
      this.store.cronRuns.finish(run.id, { status: 'failed', exitCode: null, reason, logs: [] });
    }
    return this.store.cronRuns.get(run.id);
  }

  /** A run's process ended on its own (Replicas' onJobExit). */
  ended(workloadId: string, info: ExitInfo): void {
    const run = this.store.cronRuns.findByWorkload(workloadId);
    if (run?.status !== 'running') return;
    this.clearLimit(run.id);
    const ok = info.code === 0;
    const reason = ok
      ? null
      : info.code === null && !info.signal
        ? 'it ended while the Berth server was down, so its exit code is unknown'
        : `it ${describeExit(info)}`;
    this.store.cronRuns.finish(run.id, {
      status: ok ? 'succeeded' : 'failed',
      exitCode: info.code,
      reason,
      logs: this.outputOf(run),
    });
  }

  /** Stops the run when its time limit (from its start, so it survives daemon restarts) is reached. */
  private armLimit(run: StoredCronRun): void {
    const d = this.store.deployments.find(run.deploymentId);
    const limitS = d?.config?.deploy.cronTimeoutSeconds ?? DEFAULT_CRON_TIMEOUT_SECONDS;
    const left = Math.max(0, Date.parse(run.startedAt) + limitS * 1000 - Date.now());
    const timer = setTimeout(() => void this.timeOut(run.id, limitS), left);
    timer.unref();
    this.limits.set(run.id, timer);
  }

  private clearLimit(runId: string): void {
    clearTimeout(this.limits.get(runId));
    this.limits.delete(runId);
  }

  private async timeOut(runId: string, limitS: number): Promise<void> {
    this.limits.delete(runId);
    const run = this.store.cronRuns.find(runId);
    if (run?.status !== 'running') return;
    const d = this.store.deployments.get(run.deploymentId);
    const reason = `it ran longer than its limit of ${limitS}s (deploy.cronTimeoutSeconds) and was stopped`;
    this.logs.log(d.id, 'deploy', 'system', `cron run timed out: ${reason}`, { level: 'error' });
    const graceMs = (d.config?.deploy.drainingSeconds ?? 0) * 1000;
    if (run.workloadId) await this.replicas.stopJob(run.workloadId, graceMs).catch(() => undefined);
    this.store.cronRuns.finish(run.id, {
      status: 'timed_out',
      exitCode: null,
      reason,
      logs: this.outputOf(run),
    });
  }

  /** The run's own output: its deployment's app lines since it started (runs of one service never overlap). */
  private outputOf(run: StoredCronRun): string[] {
    return this.logs.lastLines(
      run.deploymentId,
      RUN_LOG_LINES,
      (l) => l.stream !== 'system' && l.phase === 'deploy' && l.time >= run.startedAt,
    );
  }

  /** The runs of a service in an environment, newest first. */
  runs(serviceId: string, environmentId: string, limit: number): StoredCronRun[] {
    return this.store.cronRuns.list(serviceId, environmentId, limit);
  }

  close(): void {
    for (const job of this.jobs.values()) job.cron.stop();
    this.jobs.clear();
    for (const t of this.limits.values()) clearTimeout(t);
    this.limits.clear();
  }
}
