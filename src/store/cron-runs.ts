import { randomUUID } from 'node:crypto';
import { NotFoundError } from '../core/errors.js';
import { now, type Row, type StoreContext } from './context.js';

export type CronRunTrigger = 'schedule' | 'manual';
export type CronRunStatus = 'running' | 'succeeded' | 'failed' | 'skipped' | 'timed_out';

/** One run of a cron service (the API's CronRun plus its owner's ids). */
export interface StoredCronRun {
  id: string;
  deploymentId: string;
  trigger: CronRunTrigger;
  status: CronRunStatus;
  startedAt: string;
  endedAt: string | null;
  exitCode: number | null;
  reason: string | null;
  /** The last lines of its output. */
  logs: string[];
  serviceId: string;
  environmentId: string;
  /** The workload that ran it; null when skipped. */
  workloadId: string | null;
}

function parseLogs(text: unknown): string[] {
  try {
    const v = JSON.parse(String(text));
    return Array.isArray(v) ? v.map(String) : [];
  } catch {
    return [];
  }
}

function toRun(r: Row): StoredCronRun {
  return {
    id: String(r.id),
    deploymentId: String(r.deployment_id),
    serviceId: String(r.service_id),
    environmentId: String(r.environment_id),
    workloadId: r.workload_id === null ? null : String(r.workload_id),
    trigger: r.trigger as CronRunTrigger,
    status: r.status as CronRunStatus,
    startedAt: String(r.started_at),
    endedAt: r.ended_at === null ? null : String(r.ended_at),
    exitCode: r.exit_code === null ? null : Number(r.exit_code),
    reason: r.reason === null ? null : String(r.reason),
    logs: parseLogs(r.logs_json),
  };
}

/** Table `cron_runs`: one row per run of a cron service, written when it starts (or is skipped). */
export class CronRuns {
  constructor(private readonly ctx: StoreContext) {}

  create(run: {
    deploymentId: string;
    serviceId: string;
    environmentId: string;
    trigger: CronRunTrigger;
    status: 'running' | 'skipped';
    reason?: string | null;
  }): StoredCronRun {
    const id = randomUUID();
    const ts = now();
    this.ctx.db
      .prepare(
        `INSERT INTO cron_runs (id, deployment_id, service_id, environment_id, trigger, status, started_at,
           ended_at, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        id,
        run.deploymentId,
        run.serviceId,
        run.environmentId,
        run.trigger,
        run.status,
        ts,
        run.status === 'skipped' ? ts : null,
        run.reason ?? null,
      );
    return this.get(id);
  }

  setWorkload(id: string, workloadId: string): void {
    this.ctx.db.prepare('UPDATE cron_runs SET workload_id = ? WHERE id = ?').run(workloadId, id);
  }

  /** The run ended: how, its exit code, why (one sentence), its last output lines. */
  finish(
    id: string,
    end: { status: CronRunStatus; exitCode: number | null; reason: string | null; logs: string[] },
  ): void {
    this.ctx.db
      .prepare(
        `UPDATE cron_runs SET status = ?, ended_at = ?, exit_code = ?, reason = ?, logs_json = ?
          WHERE id = ? AND status = 'running'`,
      )
      .run(end.status, now(), end.exitCode, end.reason, JSON.stringify(end.logs), id);
  }

  find(id: string): StoredCronRun | null {
    const r = this.ctx.db.prepare('SELECT * FROM cron_runs WHERE id = ?').get(id) as Row | undefined;
    return r ? toRun(r) : null;
  }

  get(id: string): StoredCronRun {
    const run = this.find(id);
    if (!run) throw new NotFoundError(`Cron run ${id} does not exist.`);
    return run;
  }

  findByWorkload(workloadId: string): StoredCronRun | null {
    const r = this.ctx.db.prepare('SELECT * FROM cron_runs WHERE workload_id = ?').get(workloadId) as
      | Row
      | undefined;
    return r ? toRun(r) : null;
  }

  /** Runs still going (any service), e.g. to re-arm their time limits after a daemon restart. */
  running(): StoredCronRun[] {
    return this.ctx.db
      .prepare("SELECT * FROM cron_runs WHERE status = 'running' ORDER BY started_at")
      .all()
      .map((r) => toRun(r as Row));
  }

  /** A service's runs in one environment, newest first. */
  list(serviceId: string, environmentId: string, limit: number): StoredCronRun[] {
    return this.ctx.db
      .prepare(
        `SELECT * FROM cron_runs WHERE service_id = ? AND environment_id = ?
          ORDER BY started_at DESC, rowid DESC LIMIT ?`,
      )
      .all(serviceId, environmentId, limit)
      .map((r) => toRun(r as Row));
  }
}
