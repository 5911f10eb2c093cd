/**
 * `berth db pooler on|off`: PgBouncer in transaction mode beside a data service's PostgreSQL, a supervised
 * workload of its own (owner kind 'data-sidecar', slot 0, restart ALWAYS, re-adopted after a daemon restart).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { errorMessage, UserError } from '../../core/errors.js';
import type { DataPaths } from '../../deploy/paths.js';
import { KeyedLock } from '../../lib/keyed-lock.js';
import { canConnect } from '../../lib/net.js';
import { delay } from '../../lib/wait.js';
import type { RuntimeDriver } from '../../runtime/driver.js';
import type { Sandbox } from '../../runtime/sandbox.js';
import { describeExit, type RestartPlan, Supervisor, type WorkloadHooks } from '../../runtime/supervisor.js';
import type { ExitInfo } from '../../runtime/types.js';
import type { DataService } from '../../store/data-services.js';
import type { Store } from '../../store/store.js';
import type { StoredWorkload } from '../../store/workloads.js';
import type { EngineLogFiles } from '../engine-log.js';
import { alwaysRestartPlan, Superseded } from '../restart-plan.js';
import type { PsqlTarget } from './argv.js';
import { requirePostgres } from './binaries.js';
import { ownedDir, type VolumeOwner, writeOwned } from './cluster.js';
import {
  authFileLine,
  hasPreparedStatements,
  MAX_PREPARED_STATEMENTS,
  type PgbouncerBinary,
  POOLER_PORT,
  pgbouncerArgv,
  pgbouncerIni,
  requirePgbouncer,
} from './pgbouncer.js';
import { runPsql } from './psql.js';

const OWNER = 'data-sidecar' as const;
const SLOT = 0;
/** PgBouncer's SIGTERM is an immediate shutdown: open client connections are closed at once. */
const STOP_GRACE_MS = 10_000;
const START_TIMEOUT_MS = 20_000;

/** What the pooler needs of the data service manager (which owns the engine). */
export interface PoolerHost {
  store: Store;
  paths: DataPaths;
  driver: RuntimeDriver;
  logger: Logger;
  /** The engine's private address and its superuser's credentials. */
  connection(ds: DataService): PsqlTarget & { password: string };
  volumeOf(ds: DataService): string;
  /** Who runs in the volume: the service's sandbox user and its sandbox (null owner: the daemon's own user). */
  runAs(ds: DataService): { owner: VolumeOwner; sandbox?: Sandbox };
  nameOf(ds: DataService): string;
}

/** The pooler's files in the volume: its configuration and the auth file with the role's SCRAM secret. */
export function poolerFiles(volume: string): { dir: string; ini: string; authFile: string } {
  const dir = path.join(volume, 'pooler');
  return { dir, ini: path.join(dir, 'pgbouncer.ini'), authFile: path.join(dir, 'userlist.txt') };
}

export class Poolers {
  private readonly supervisor: Supervisor;
  private readonly lock = new KeyedLock();
  /** Bumped by every start and stop of Berth's: restart loops of an older run stand down. */
  private readonly runs = new Map<string, number>();

  constructor(private readonly host: PoolerHost) {
    this.supervisor = new Supervisor(host.driver);
  }

  /**
   * Turns the pooler on: reads the role's SCRAM secret from pg_authid (so PgBouncer authenticates clients and
   * logs in for them without a password in clear), writes its files and starts it. Returns the host's PgBouncer.
   */
  async enable(ds: DataService): Promise<PgbouncerBinary> {
    const bouncer = requirePgbouncer();
    await this.lock.run(ds.id, async () => {
      await this.writeAuthFile(ds);
      // Already running: left alone, so its clients keep their connections.
      if (this.host.store.dataServices.getById(ds.id).pooler && this.workloadOf(ds)?.state === 'running')
        return;
      this.host.store.dataServices.setPooler(ds.id, true);
      await this.startSidecar(ds, bouncer);
    });
    return bouncer;
  }

  /** Turns it off: stopped, its row gone (its files stay in the volume; `on` rewrites them). */
  async disable(ds: DataService): Promise<void> {
    await this.lock.run(ds.id, async () => {
      this.host.store.dataServices.setPooler(ds.id, false);
      await this.stopSidecar(ds);
      const w = this.workloadOf(ds);
      if (w) this.host.store.workloads.delete(w.id);
    });
  }

  /** Stops the pooler of a data service being deleted (its row goes with the data service's). */
  stop(ds: DataService): Promise<void> {
    return this.lock.run(ds.id, () => this.stopSidecar(ds));
  }

  /** At daemon start: follows the poolers a previous daemon left running, starts wanted ones that are not. */
  async adopt(): Promise<void> {
    const { store, logger } = this.host;
    for (const ds of store.dataServices.list()) {
      const w = this.workloadOf(ds);
      if (!ds.pooler) {
        if (w) await this.stop(ds).catch(() => undefined);
        continue;
      }
      const adopted = w?.handle
        ? await this.supervisor.adopt(w.handle, this.currentEnds(w.id), this.hooks(ds, w.id))
        : null;
      if (adopted && w) {
        if (w.state !== 'running') store.workloads.update(w.id, { state: 'running' });
        continue;
      }
      if (w) store.workloads.update(w.id, { state: 'exited', handle: null });
      void this.lock
        .run(ds.id, () => this.startSidecar(ds, requirePgbouncer()))
        .catch((err) =>
          logger.warn(`could not start the pooler of ${this.host.nameOf(ds)}: ${errorMessage(err)}`),
        );
    }
  }

  close(): void {
    this.supervisor.close();
  }

  workloadOf(ds: DataService): StoredWorkload | null {
    return this.host.store.workloads.of([OWNER], ds.id).find((w) => w.slot === SLOT) ?? null;
  }

  private async writeAuthFile(ds: DataService): Promise<void> {
    const c = this.host.connection(ds);
    const secret = (
      await runPsql(
        requirePostgres(),
        { ...c, database: 'postgres' },
        "SELECT rolpassword FROM pg_authid WHERE rolname = :'role'\n",
        { role: c.username },
      ).catch((err) => {
        throw new UserError(
          `${this.host.nameOf(ds)} does not answer (${errorMessage(err)}), so the pooler cannot read its credentials; \`berth restart -s\` it and try again.`,
          { status: 409, code: 'conflict' },
        );
      })
    ).trim();
    if (!secret.startsWith('SCRAM-SHA-256$')) {
      throw new Error(`the role ${c.username} has no SCRAM secret, which the pooler needs`);
    }
    const { owner } = this.host.runAs(ds);
    const files = poolerFiles(this.host.volumeOf(ds));
    ownedDir(files.dir, owner);
    writeOwned(files.authFile, authFileLine(c.username, secret), owner);
  }

  private filesOf(workloadId: string): EngineLogFiles {
    return {
      stdout: this.host.paths.instanceOutput(workloadId, 'stdout'),
      stderr: this.host.paths.instanceOutput(workloadId, 'stderr'),
    };
  }

  private currentEnds(workloadId: string): { stdout: number; stderr: number } {
    const size = (f: string) => {
      try {
        return fs.statSync(f).size;
      } catch {
        return 0;
      }
    };
    const f = this.filesOf(workloadId);
    return { stdout: size(f.stdout), stderr: size(f.stderr) };
  }

  private async startSidecar(ds: DataService, bouncer: PgbouncerBinary): Promise<void> {
    const { store } = this.host;
    await this.stopSidecar(ds);
    const w =
      this.workloadOf(ds) ??
      store.workloads.create({
        ownerKind: OWNER,
        ownerId: ds.id,
        slot: SLOT,
        ports: { pgbouncer: POOLER_PORT },
        state: 'starting',
      });
    store.workloads.update(w.id, { state: 'starting', exitCode: null });
    try {
      await this.spawn(ds, bouncer, w.id);
      await this.gate(ds, w.id);
    } catch (err) {
      await this.supervisor.stop(w.id, 0, store.workloads.get(w.id).handle);
      store.workloads.update(w.id, { state: 'crashed', handle: null });
      throw err;
    }
    store.workloads.update(w.id, { state: 'running' });
  }

  private async spawn(ds: DataService, bouncer: PgbouncerBinary, workloadId: string): Promise<void> {
    const { owner, sandbox } = this.host.runAs(ds);
    const c = this.host.connection(ds);
    const files = poolerFiles(this.host.volumeOf(ds));
    ownedDir(files.dir, owner);
    const ini = pgbouncerIni({
      host: c.host,
      port: POOLER_PORT,
      serverPort: c.port,
      authFile: files.authFile,
      maxPreparedStatements: hasPreparedStatements(bouncer.version) ? MAX_PREPARED_STATEMENTS : null,
    });
    writeOwned(files.ini, ini, owner);
    const handle = await this.supervisor.start(
      {
        id: workloadId,
        argv: pgbouncerArgv(bouncer.path, files.ini),
        cwd: files.dir,
        env: { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', TZ: 'UTC' },
        ports: { pgbouncer: POOLER_PORT },
        logs: this.filesOf(workloadId),
        sandbox,
      },
      this.hooks(ds, workloadId),
    );
    this.host.store.workloads.update(workloadId, { handle });
  }

  /** Resolves once PgBouncer accepts TCP connections on its port; rejects when it exits first. */
  private async gate(ds: DataService, workloadId: string): Promise<void> {
    const { host } = this.host.connection(ds);
    let gone: string | null = null;
    void this.supervisor.exited(workloadId)?.then((info) => {
      const last = lastLines(this.filesOf(workloadId).stderr, 3);
      gone = `PgBouncer ${describeExit(info)} before it accepted connections${last ? `: ${last}` : ''}`;
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (gone) throw new Error(gone);
      if (await canConnect(POOLER_PORT, host, 500)) {
        if (gone) throw new Error(gone);
        return;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `PgBouncer did not accept connections on ${host}:${POOLER_PORT} within ${START_TIMEOUT_MS / 1000}s`,
        );
      }
      await delay(50);
    }
  }

  private async stopSidecar(ds: DataService): Promise<void> {
    const { store } = this.host;
    this.runs.set(ds.id, this.runOf(ds) + 1);
    const w = this.workloadOf(ds);
    if (!w) return;
    store.workloads.update(w.id, { state: 'stopping' });
    const info = await this.supervisor.stop(w.id, STOP_GRACE_MS, w.handle, 'SIGTERM');
    store.workloads.update(w.id, { state: 'exited', handle: null, exitCode: info?.code ?? null });
  }

  private runOf(ds: DataService): number {
    return this.runs.get(ds.id) ?? 0;
  }

  private hooks(ds: DataService, workloadId: string): WorkloadHooks {
    return {
      onLine: () => {},
      onExit: (info) => void this.onExit(ds.id, workloadId, info),
    };
  }

  private async onExit(dataServiceId: string, workloadId: string, info: ExitInfo): Promise<void> {
    const { store } = this.host;
    const w = store.workloads.find(workloadId);
    const ds = store.dataServices.findById(dataServiceId);
    if (!w || !ds?.pooler || w.state !== 'running') return;
    await this.supervisor.keepRunning(workloadId, info, this.restartPlan(ds, workloadId));
  }

  /** Restart policy ALWAYS, for as long as the pooler is wanted and no start or stop of Berth's superseded it. */
  private restartPlan(ds: DataService, workloadId: string): RestartPlan {
    const { store, logger } = this.host;
    const run = this.runOf(ds);
    const current = () => this.runOf(ds) === run && store.dataServices.findById(ds.id)?.pooler === true;
    return alwaysRestartPlan({
      name: `PgBouncer of ${this.host.nameOf(ds)}`,
      workloads: store.workloads,
      workloadId,
      logger,
      logFiles: this.filesOf(workloadId),
      current,
      respawn: () =>
        this.lock.run(ds.id, async () => {
          if (!current()) throw new Superseded();
          await this.spawn(ds, requirePgbouncer(), workloadId);
        }),
      gate: () => this.gate(ds, workloadId),
    });
  }
}

function lastLines(file: string, n: number): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-n).join(' ');
  } catch {
    return '';
  }
}
