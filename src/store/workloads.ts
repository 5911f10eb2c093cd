import { randomUUID } from 'node:crypto';
import { NotFoundError } from '../core/errors.js';
import { now, type Row, type StoreContext } from './context.js';

/**
 * Who a workload belongs to: a deployment's replica, a cron run of a deployment, a data service's engine, a
 * process beside a data service's engine (its PgBouncer: slot 0).
 */
export type OwnerKind = 'replica' | 'cron-run' | 'data-service' | 'data-sidecar';

/** The kinds a deployment owns: its replicas and its cron runs. */
export const DEPLOYMENT_KINDS: readonly OwnerKind[] = ['replica', 'cron-run'];

/** The owner's word for where it is; `job` is one run of a cron service: never routed, never restarted. */
export type WorkloadState = 'starting' | 'running' | 'restarting' | 'stopping' | 'exited' | 'crashed' | 'job';

/** One supervised workload: its owner, the runtime driver's handle (parsed JSON, null when not running). */
export interface StoredWorkload {
  id: string;
  ownerKind: OwnerKind;
  ownerId: string;
  /** The replica number (0 for owners with one workload). */
  slot: number;
  handle: unknown;
  state: WorkloadState;
  restarts: number;
  exitCode: number | null;
  ports: Record<string, number>;
  stdoutOffset: number;
  stderrOffset: number;
  /** It passed its health gate without ever listening on $PORT: a worker serving no HTTP. */
  worker: boolean;
  /** Times the kernel killed it at its memory limit. */
  oomKills: number;
  createdAt: string;
  updatedAt: string;
}

export type WorkloadPatch = Partial<{
  /** A driver handle (stored as JSON); null once the workload stopped. */
  handle: unknown;
  state: WorkloadState;
  restarts: number;
  exitCode: number | null;
  ports: Record<string, number>;
  stdoutOffset: number;
  stderrOffset: number;
  worker: boolean;
  oomKills: number;
}>;

function parseJson(text: unknown): unknown {
  if (typeof text !== 'string') return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function toPorts(text: unknown): Record<string, number> {
  const v = parseJson(text);
  const out: Record<string, number> = {};
  if (typeof v !== 'object' || v === null) return out;
  for (const [k, p] of Object.entries(v)) if (typeof p === 'number') out[k] = p;
  return out;
}

export function toWorkload(r: Row): StoredWorkload {
  return {
    id: String(r.id),
    ownerKind: r.owner_kind as OwnerKind,
    ownerId: String(r.owner_id),
    slot: Number(r.slot),
    handle: parseJson(r.handle_json),
    state: r.state as WorkloadState,
    restarts: Number(r.restarts),
    exitCode: r.exit_code === null ? null : Number(r.exit_code),
    ports: toPorts(r.ports_json),
    stdoutOffset: Number(r.stdout_offset),
    stderrOffset: Number(r.stderr_offset),
    worker: Number(r.worker ?? 0) === 1,
    oomKills: Number(r.oom_kills ?? 0),
    createdAt: String(r.created_at),
    updatedAt: String(r.updated_at),
  };
}

const COLUMNS: Record<keyof WorkloadPatch, [string, (v: unknown) => unknown]> = {
  handle: ['handle_json', (v) => (v === null || v === undefined ? null : JSON.stringify(v))],
  state: ['state', (v) => v],
  restarts: ['restarts', (v) => v],
  exitCode: ['exit_code', (v) => v],
  ports: ['ports_json', (v) => JSON.stringify(v)],
  stdoutOffset: ['stdout_offset', (v) => v],
  stderrOffset: ['stderr_offset', (v) => v],
  worker: ['worker', (v) => (v ? 1 : 0)],
  oomKills: ['oom_kills', (v) => v],
};

/** Table `workloads`: everything Berth keeps running through a runtime driver, whoever owns it. */
export class Workloads {
  constructor(private readonly ctx: StoreContext) {}

  create(w: {
    ownerKind: OwnerKind;
    ownerId: string;
    slot: number;
    ports: Record<string, number>;
    state: WorkloadState;
  }): StoredWorkload {
    const id = randomUUID();
    const ts = now();
    this.ctx.db
      .prepare(
        `INSERT INTO workloads (id, owner_kind, owner_id, slot, state, ports_json, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(id, w.ownerKind, w.ownerId, w.slot, w.state, JSON.stringify(w.ports), ts, ts);
    return this.get(id);
  }

  find(id: string): StoredWorkload | null {
    const r = this.ctx.db.prepare('SELECT * FROM workloads WHERE id = ?').get(id) as Row | undefined;
    return r ? toWorkload(r) : null;
  }

  get(id: string): StoredWorkload {
    const w = this.find(id);
    if (!w) throw new NotFoundError(`Workload ${id} does not exist.`);
    return w;
  }

  /** An owner's workloads, by slot. */
  of(kinds: readonly OwnerKind[], ownerId: string): StoredWorkload[] {
    return this.ctx.db
      .prepare(
        `SELECT * FROM workloads WHERE owner_kind IN (${kinds.map(() => '?').join(', ')}) AND owner_id = ?
         ORDER BY slot, created_at, rowid`,
      )
      .all(...kinds, ownerId)
      .map((r) => toWorkload(r as Row));
  }

  /** A deployment's replicas and cron runs, by replica number (slot). */
  ofDeployment(deploymentId: string): StoredWorkload[] {
    return this.of(DEPLOYMENT_KINDS, deploymentId);
  }

  /** Workloads that may still be running (of the given owner kinds, or of any), for adoption at daemon start. */
  live(kinds?: readonly OwnerKind[]): StoredWorkload[] {
    if (kinds === undefined) {
      return this.ctx.db
        .prepare(
          `SELECT * FROM workloads WHERE state NOT IN ('exited', 'crashed') ORDER BY created_at, rowid`,
        )
        .all()
        .map((r) => toWorkload(r as Row));
    }
    return this.ctx.db
      .prepare(
        `SELECT * FROM workloads WHERE state NOT IN ('exited', 'crashed')
           AND owner_kind IN (${kinds.map(() => '?').join(', ')}) ORDER BY created_at, rowid`,
      )
      .all(...kinds)
      .map((r) => toWorkload(r as Row));
  }

  update(id: string, patch: WorkloadPatch): void {
    const keys = (Object.keys(patch) as (keyof WorkloadPatch)[]).filter((k) => k in COLUMNS);
    if (keys.length === 0) return;
    const sets = keys.map((k) => `${COLUMNS[k][0]} = ?`).join(', ');
    const values = keys.map((k) => COLUMNS[k][1](patch[k]));
    this.ctx.db
      .prepare(`UPDATE workloads SET ${sets}, updated_at = ? WHERE id = ?`)
      .run(...values, now(), id);
  }

  /** The workloads of an environment's deployments (replicas, cron runs), before those deployments go. */
  /** One workload's row (a data service's pooler turned off). */
  delete(id: string): void {
    this.ctx.db.prepare('DELETE FROM workloads WHERE id = ?').run(id);
  }

  deleteOfEnvironmentDeployments(environmentId: string): void {
    this.ctx.db
      .prepare(
        `DELETE FROM workloads WHERE owner_kind IN ('replica', 'cron-run')
           AND owner_id IN (SELECT id FROM deployments WHERE environment_id = ?)`,
      )
      .run(environmentId);
  }

  /** The workloads of a service's deployments (replicas, cron runs), before those deployments go. */
  deleteOfServiceDeployments(serviceId: string): void {
    this.ctx.db
      .prepare(
        `DELETE FROM workloads WHERE owner_kind IN ('replica', 'cron-run')
           AND owner_id IN (SELECT id FROM deployments WHERE service_id = ?)`,
      )
      .run(serviceId);
  }
}
