import { Cron } from 'croner';
import type { Deployment } from '../core/model.js';
import type { Store } from '../store/store.js';
import { artifactOf } from './artifact.js';
import type { DeploymentLogs } from './deployment-log.js';
import type { Replicas } from './replicas.js';

/**
 * Cron services (deploy.cronSchedule): instead of long-running replicas, the start command runs on
 * the schedule, in UTC like Railway. A run still going when the next is due makes that one skip.
 */
export class CronScheduler {
  private readonly jobs = new Map<string, { deploymentId: string; cron: Cron }>();

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
      const cron = new Cron(schedule, { utcOffset: 0 }, () => void this.tick(d.id));
      this.jobs.set(key, { deploymentId: d.id, cron });
    }
  }

  nextRun(deploymentId: string): Date | null {
    for (const job of this.jobs.values()) if (job.deploymentId === deploymentId) return job.cron.nextRun();
    return null;
  }

  private async tick(deploymentId: string): Promise<void> {
    const d = this.store.deployments.get(deploymentId);
    if (this.replicas.jobRunning(d.id)) {
      this.logs.log(d.id, 'deploy', 'system', 'cron run skipped: the previous run is still active', {
        level: 'warn',
      });
      return;
    }
    try {
      this.logs.log(d.id, 'deploy', 'system', 'cron run starting');
      await this.replicas.runJob(d, artifactOf(d));
    } catch (err) {
      this.logs.log(d.id, 'deploy', 'system', `cron run could not start: ${(err as Error).message}`, {
        level: 'error',
      });
    }
  }

  close(): void {
    for (const job of this.jobs.values()) job.cron.stop();
    this.jobs.clear();
  }
}
