import type { VariableEntry } from '../core/model.js';
import { now, type StoreContext } from './context.js';
import { sharedAad, variableAad } from './sealed-columns.js';

function entriesToRecord(entries: VariableEntry[], includeSealed: boolean): Record<string, string> {
  return Object.fromEntries(entries.filter((e) => includeSealed || !e.sealed).map((e) => [e.name, e.value]));
}

type EntryRow = { name: string; value: string; sealed: number };

/**
 * Tables `variables` (per service and environment) and `shared_variables` (per environment). Values
 * are sealed at rest; a sealed variable stays sealed when set again without `sealed` (Railway: it
 * cannot be unsealed).
 */
export class Variables {
  constructor(private readonly ctx: StoreContext) {}

  entries(serviceId: string, environmentId: string): VariableEntry[] {
    const rows = this.ctx.db
      .prepare(
        'SELECT name, value, sealed FROM variables WHERE service_id = ? AND environment_id = ? ORDER BY name',
      )
      .all(serviceId, environmentId) as EntryRow[];
    return rows.map((r) => ({
      name: r.name,
      value: this.ctx.box.open(r.value, variableAad(serviceId, environmentId, r.name)),
      sealed: r.sealed === 1,
    }));
  }

  /** Name → value; sealed ones only when asked (deployments need them, read paths never do). */
  record(
    serviceId: string,
    environmentId: string,
    opts: { includeSealed?: boolean } = {},
  ): Record<string, string> {
    return entriesToRecord(this.entries(serviceId, environmentId), opts.includeSealed ?? false);
  }

  update(
    serviceId: string,
    environmentId: string,
    set: Record<string, string>,
    del: string[],
    opts: { sealed?: boolean } = {},
  ): void {
    const ts = now();
    const { db, box } = this.ctx;
    db.transaction(() => {
      const upsert = db.prepare(
        `INSERT INTO variables (service_id, environment_id, name, value, sealed, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (service_id, environment_id, name) DO UPDATE SET value = excluded.value,
           sealed = MAX(sealed, excluded.sealed), updated_at = excluded.updated_at`,
      );
      for (const [k, v] of Object.entries(set)) {
        const sealed = box.seal(v, variableAad(serviceId, environmentId, k));
        upsert.run(serviceId, environmentId, k, sealed, opts.sealed ? 1 : 0, ts);
      }
      const remove = db.prepare(
        'DELETE FROM variables WHERE service_id = ? AND environment_id = ? AND name = ?',
      );
      for (const k of del) remove.run(serviceId, environmentId, k);
    })();
  }

  sharedEntries(environmentId: string): VariableEntry[] {
    const rows = this.ctx.db
      .prepare('SELECT name, value, sealed FROM shared_variables WHERE environment_id = ? ORDER BY name')
      .all(environmentId) as EntryRow[];
    return rows.map((r) => ({
      name: r.name,
      value: this.ctx.box.open(r.value, sharedAad(environmentId, r.name)),
      sealed: r.sealed === 1,
    }));
  }

  sharedRecord(environmentId: string, opts: { includeSealed?: boolean } = {}): Record<string, string> {
    return entriesToRecord(this.sharedEntries(environmentId), opts.includeSealed ?? false);
  }

  updateShared(
    environmentId: string,
    set: Record<string, string>,
    del: string[],
    opts: { sealed?: boolean } = {},
  ): void {
    const ts = now();
    const { db, box } = this.ctx;
    db.transaction(() => {
      const upsert = db.prepare(
        `INSERT INTO shared_variables (environment_id, name, value, sealed, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (environment_id, name) DO UPDATE SET value = excluded.value,
           sealed = MAX(sealed, excluded.sealed), updated_at = excluded.updated_at`,
      );
      for (const [k, v] of Object.entries(set)) {
        upsert.run(environmentId, k, box.seal(v, sharedAad(environmentId, k)), opts.sealed ? 1 : 0, ts);
      }
      const remove = db.prepare('DELETE FROM shared_variables WHERE environment_id = ? AND name = ?');
      for (const k of del) remove.run(environmentId, k);
    })();
  }

  /** Copies service and shared variables to another environment, leaving sealed ones behind. */
  copy(fromEnvironmentId: string, toEnvironmentId: string): void {
    const { db } = this.ctx;
    db.transaction(() => {
      this.updateShared(toEnvironmentId, this.sharedRecord(fromEnvironmentId), []);
      const services = db
        .prepare('SELECT DISTINCT service_id FROM variables WHERE environment_id = ?')
        .all(fromEnvironmentId) as { service_id: string }[];
      for (const { service_id } of services) {
        this.update(service_id, toEnvironmentId, this.record(service_id, fromEnvironmentId), []);
      }
    })();
  }

  /** An environment's service and shared variables. */
  deleteOfEnvironment(environmentId: string): void {
    this.ctx.db.prepare('DELETE FROM variables WHERE environment_id = ?').run(environmentId);
    this.ctx.db.prepare('DELETE FROM shared_variables WHERE environment_id = ?').run(environmentId);
  }
}
