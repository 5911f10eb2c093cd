import { randomUUID } from 'node:crypto';
import { NotFoundError } from '../core/errors.js';
import type { Instance, InstanceState } from '../core/model.js';
import { now, type Row, type StoreContext } from './context.js';

/** A replica's row: the model's Instance plus how far its log files have been read. */
export type StoredInstance = Instance & { stdoutOffset: number; stderrOffset: number };

export type InstancePatch = Partial<{
  pid: number | null;
  pidStartTime: string | null;
  port: number;
  state: InstanceState;
  restarts: number;
  exitCode: number | null;
  stdoutOffset: number;
  stderrOffset: number;
}>;

export function toInstance(r: Row): StoredInstance {
  return {
    id: String(r.id),
    deploymentId: String(r.deployment_id),
    replica: Number(r.replica),
    pid: r.pid === null ? null : Number(r.pid),
    pidStartTime: (r.pid_start_time as string | null) ?? null,
    port: Number(r.port),
    state: r.state as InstanceState,
    restarts: Number(r.restarts),
    exitCode: r.exit_code === null ? null : Number(r.exit_code),
    createdAt: String(r.created_at),
    updatedAt: String(r.updated_at),
    stdoutOffset: Number(r.stdout_offset),
    stderrOffset: Number(r.stderr_offset),
  };
}

const COLUMNS: Record<keyof InstancePatch, string> = {
  pid: 'pid',
  pidStartTime: 'pid_start_time',
  port: 'port',
  state: 'state',
  restarts: 'restarts',
  exitCode: 'exit_code',
  stdoutOffset: 'stdout_offset',
  stderrOffset: 'stderr_offset',
};

/** Table `instances`: one row per replica process of a deployment (to become the workloads table). */
export class Instances {
  constructor(private readonly ctx: StoreContext) {}

  create(deploymentId: string, replica: number, port: number): StoredInstance {
    const id = randomUUID();
    const ts = now();
    this.ctx.db
      .prepare(
        `INSERT INTO instances (id, deployment_id, replica, port, state, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'starting', ?, ?)`,
      )
      .run(id, deploymentId, replica, port, ts, ts);
    return this.get(id);
  }

  find(id: string): StoredInstance | null {
    const r = this.ctx.db.prepare('SELECT * FROM instances WHERE id = ?').get(id) as Row | undefined;
    return r ? toInstance(r) : null;
  }

  get(id: string): StoredInstance {
    const instance = this.find(id);
    if (!instance) throw new NotFoundError(`Instance ${id} does not exist.`);
    return instance;
  }

  /** A deployment's replicas, by replica number. */
  of(deploymentId: string): StoredInstance[] {
    return this.ctx.db
      .prepare('SELECT * FROM instances WHERE deployment_id = ? ORDER BY replica')
      .all(deploymentId)
      .map((r) => toInstance(r as Row));
  }

  /** Instances that may still have a live process. */
  live(): StoredInstance[] {
    return this.ctx.db
      .prepare(`SELECT * FROM instances WHERE state NOT IN ('exited', 'crashed')`)
      .all()
      .map((r) => toInstance(r as Row));
  }

  update(id: string, patch: InstancePatch): void {
    const keys = (Object.keys(patch) as (keyof InstancePatch)[]).filter((k) => k in COLUMNS);
    if (keys.length === 0) return;
    const sets = keys.map((k) => `${COLUMNS[k]} = ?`).join(', ');
    const values = keys.map((k) => patch[k]);
    this.ctx.db
      .prepare(`UPDATE instances SET ${sets}, updated_at = ? WHERE id = ?`)
      .run(...values, now(), id);
  }

  /** The instances of an environment's deployments, before those deployments are deleted. */
  deleteOfEnvironment(environmentId: string): void {
    this.ctx.db
      .prepare(
        'DELETE FROM instances WHERE deployment_id IN (SELECT id FROM deployments WHERE environment_id = ?)',
      )
      .run(environmentId);
  }
}
