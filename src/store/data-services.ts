import { randomUUID } from 'node:crypto';
import { NotFoundError } from '../core/errors.js';
import { now, type Row, type StoreContext } from './context.js';
import { dataServicePasswordAad } from './sealed-columns.js';

/** The engines Berth runs as data services (a service's kind when it is not an app). */
export type DataEngine = 'postgres' | 'redis';

/**
 * A data service in one environment: its spec (engine, major version, settings, public port) and the
 * credentials Berth generated for it. The password is sealed at rest and opened only here.
 */
export interface DataService {
  id: string;
  serviceId: string;
  environmentId: string;
  engine: DataEngine;
  /** The engine's major version, e.g. "15". */
  version: string;
  /** Settings set with `berth db config set` (the engine's own names). */
  settings: Record<string, string>;
  /** Where the service is reachable from outside the machine; null = not public (the default). */
  publicPort: number | null;
  /** Whether PgBouncer runs in front of it (`berth db pooler on`). */
  pooler: boolean;
  username: string;
  database: string;
  password: string;
  createdAt: string;
  updatedAt: string;
}

function toSettings(text: unknown): Record<string, string> {
  try {
    const v = JSON.parse(String(text)) as unknown;
    if (typeof v !== 'object' || v === null) return {};
    return Object.fromEntries(Object.entries(v).filter(([, x]) => typeof x === 'string')) as Record<
      string,
      string
    >;
  } catch {
    return {};
  }
}

/** Table `data_services`: data services per environment (the engine's workload is in `workloads`). */
export class DataServices {
  constructor(private readonly ctx: StoreContext) {}

  private toDataService(r: Row): DataService {
    const id = String(r.id);
    return {
      id,
      serviceId: String(r.service_id),
      environmentId: String(r.environment_id),
      engine: String(r.engine) as DataEngine,
      version: String(r.version),
      settings: toSettings(r.settings_json),
      publicPort: r.public_port === null ? null : Number(r.public_port),
      pooler: Number(r.pooler ?? 0) === 1,
      username: String(r.username),
      database: String(r.database_name),
      password: this.ctx.box.open(String(r.password), dataServicePasswordAad(id)),
      createdAt: String(r.created_at),
      updatedAt: String(r.updated_at),
    };
  }

  create(d: {
    serviceId: string;
    environmentId: string;
    engine: DataEngine;
    version: string;
    username: string;
    database: string;
    password: string;
  }): DataService {
    const id = randomUUID();
    const ts = now();
    this.ctx.db
      .prepare(
        `INSERT INTO data_services (id, service_id, environment_id, engine, version, username, database_name,
                                    password, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        id,
        d.serviceId,
        d.environmentId,
        d.engine,
        d.version,
        d.username,
        d.database,
        this.ctx.box.seal(d.password, dataServicePasswordAad(id)),
        ts,
        ts,
      );
    return this.getById(id);
  }

  find(serviceId: string, environmentId: string): DataService | null {
    const r = this.ctx.db
      .prepare('SELECT * FROM data_services WHERE service_id = ? AND environment_id = ?')
      .get(serviceId, environmentId) as Row | undefined;
    return r ? this.toDataService(r) : null;
  }

  findById(id: string): DataService | null {
    const r = this.ctx.db.prepare('SELECT * FROM data_services WHERE id = ?').get(id) as Row | undefined;
    return r ? this.toDataService(r) : null;
  }

  getById(id: string): DataService {
    const d = this.findById(id);
    if (!d) throw new NotFoundError(`Data service ${id} does not exist.`);
    return d;
  }

  /** Every data service (all environments), oldest first: what the daemon keeps running. */
  list(): DataService[] {
    return this.ctx.db
      .prepare('SELECT * FROM data_services ORDER BY created_at, rowid')
      .all()
      .map((r) => this.toDataService(r as Row));
  }

  ofEnvironment(environmentId: string): DataService[] {
    return this.list().filter((d) => d.environmentId === environmentId);
  }

  setSettings(id: string, settings: Record<string, string>): void {
    this.ctx.db
      .prepare('UPDATE data_services SET settings_json = ?, updated_at = ? WHERE id = ?')
      .run(JSON.stringify(settings), now(), id);
  }

  setPublicPort(id: string, port: number | null): void {
    this.ctx.db
      .prepare('UPDATE data_services SET public_port = ?, updated_at = ? WHERE id = ?')
      .run(port, now(), id);
  }

  setPooler(id: string, on: boolean): void {
    this.ctx.db
      .prepare('UPDATE data_services SET pooler = ?, updated_at = ? WHERE id = ?')
      .run(on ? 1 : 0, now(), id);
  }

  /** A new password (a branch gets credentials of its own once its copy runs). */
  setPassword(id: string, password: string): void {
    this.ctx.db
      .prepare('UPDATE data_services SET password = ?, updated_at = ? WHERE id = ?')
      .run(this.ctx.box.seal(password, dataServicePasswordAad(id)), now(), id);
  }

  /** Its workloads' rows go with it (trigger); its volume is the caller's to remove. */
  delete(id: string): void {
    this.ctx.db.prepare('DELETE FROM data_services WHERE id = ?').run(id);
  }

  /** Public ports in use by any data service (a new one is allocated apart from them). */
  publicPorts(): number[] {
    return (
      this.ctx.db.prepare('SELECT public_port FROM data_services WHERE public_port IS NOT NULL').all() as {
        public_port: number;
      }[]
    ).map((r) => r.public_port);
  }
}
