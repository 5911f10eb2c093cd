import type { VariableEntry } from '../core/model.js';
import { now, type StoreContext } from './context.js';
import { sharedAad, variableAad } from './sealed-columns.js';

function entriesToRecord(entries: VariableEntry[], includeSealed: boolean): Record<string, string> {
  return Object.fromEntries(entries.filter((e) => includeSealed || !e.sealed).map((e) => [e.name, e.value]));
}

type EntryRow = { name: string; value: string; sealed: number };

/** One set of variables: its table, the columns (and values) that key it, and the AAD sealing a name's value. */
interface VariableSet {
  table: 'variables' | 'shared_variables';
  keys: [column: string, value: string][];
  aad: (name: string) => string;
}

const serviceSet = (serviceId: string, environmentId: string): VariableSet => ({
  table: 'variables',
  keys: [
    ['service_id', serviceId],
    ['environment_id', environmentId],
  ],
  aad: (name) => variableAad(serviceId, environmentId, name),
});

const sharedSet = (environmentId: string): VariableSet => ({
  table: 'shared_variables',
  keys: [['environment_id', environmentId]],
  aad: (name) => sharedAad(environmentId, name),
});

/**
 * Tables `variables` (per service and environment) and `shared_variables` (per environment). Values
 * are sealed at rest; a sealed variable stays sealed when set again without `sealed` (Railway: it
 * cannot be unsealed).
 */
export class Variables {
  constructor(private readonly ctx: StoreContext) {}

  entries(serviceId: string, environmentId: string): VariableEntry[] {
    return this.entriesOf(serviceSet(serviceId, environmentId));
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
    this.updateOf(serviceSet(serviceId, environmentId), set, del, opts);
  }

  sharedEntries(environmentId: string): VariableEntry[] {
    return this.entriesOf(sharedSet(environmentId));
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
    this.updateOf(sharedSet(environmentId), set, del, opts);
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

  private entriesOf(v: VariableSet): VariableEntry[] {
    const where = v.keys.map(([column]) => `${column} = ?`).join(' AND ');
    const rows = this.ctx.db
      .prepare(`SELECT name, value, sealed FROM ${v.table} WHERE ${where} ORDER BY name`)
      .all(...v.keys.map(([, value]) => value)) as EntryRow[];
    return rows.map((r) => ({
      name: r.name,
      value: this.ctx.box.open(r.value, v.aad(r.name)),
      sealed: r.sealed === 1,
    }));
  }

  private updateOf(
    v: VariableSet,
    set: Record<string, string>,
    del: string[],
    opts: { sealed?: boolean },
  ): void {
    const ts = now();
    const { db, box } = this.ctx;
    const columns = v.keys.map(([column]) => column);
    const values = v.keys.map(([, value]) => value);
    db.transaction(() => {
      const upsert = db.prepare(
        `INSERT INTO ${v.table} (${columns.join(', ')}, name, value, sealed, updated_at)
         VALUES (${columns.map(() => '?').join(', ')}, ?, ?, ?, ?)
         ON CONFLICT (${columns.join(', ')}, name) DO UPDATE SET value = excluded.value,
           sealed = MAX(sealed, excluded.sealed), updated_at = excluded.updated_at`,
      );
      for (const [k, val] of Object.entries(set)) {
        upsert.run(...values, k, box.seal(val, v.aad(k)), opts.sealed ? 1 : 0, ts);
      }
      const remove = db.prepare(
        `DELETE FROM ${v.table} WHERE ${columns.map((c) => `${c} = ?`).join(' AND ')} AND name = ?`,
      );
      for (const k of del) remove.run(...values, k);
    })();
  }
}
