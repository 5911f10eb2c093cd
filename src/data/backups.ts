/**
 * Backups of the database services (src/backup wired to DataServiceManager): one scheduler over the server's
 * backup target, create/list/schedule/restore for the API, final backups before a database is deleted.
 */

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { PgConnection, PgTools } from '../backup/pg-argv.js';
import { restorePgDump } from '../backup/pg-restore.js';
import { findPgTools } from '../backup/pg-tools.js';
import { recoverInterruptedBackups } from '../backup/recovery.js';
import { BackupScheduler, type BackupStatusSummary } from '../backup/scheduler.js';
import type { BackupTarget } from '../backup/target.js';
import { verifyBackup } from '../backup/verify.js';
import type { BackupRecord, BackupSchedule, BackupSubject } from '../core/backup-model.js';
import { errorMessage, UserError } from '../core/errors.js';
import type { Environment, Project, Service } from '../core/model.js';
import type { JobGroups } from '../runtime/job-groups.js';
import type { DataService } from '../store/data-services.js';
import type { Store } from '../store/store.js';
import type { DataServiceManager } from './data-services.js';
import { requirePostgres } from './postgres/binaries.js';
import { createEmptyDatabase, dropDatabase, swapDatabases } from './postgres/swap.js';

export interface DatabaseBackupsDeps {
  store: Store;
  data: DataServiceManager;
  target: BackupTarget;
  /** `<data-dir>/backup-work`: passfiles and fetched archives, cleaned at start. */
  workDir: string;
  /** Process groups of running pg_dump/pg_restore, killed at the next start if the daemon dies. */
  jobs: JobGroups;
  logger: Logger;
  /** Removes a service a failed `restore --to` created (deploy/teardown.ts, without a final backup). */
  removeService: (project: Project, service: Service) => Promise<void>;
  /** Where pg_dump, pg_restore and psql are; default: the host's newest PostgreSQL. */
  findTools?: () => PgTools;
}

export interface RestoredTo {
  service: Service;
  dataService: DataService;
  entries: number;
}

export interface RestoredInPlace {
  preRestore: BackupRecord;
  entries: number;
}

export class DatabaseBackups {
  private scheduler: BackupScheduler | null = null;
  private closed = false;

  constructor(private readonly deps: DatabaseBackupsDeps) {}

  get targetDescription(): string {
    return this.deps.target.description;
  }

  /** At daemon start: kills what a dead daemon's runs left, fails its interrupted runs, schedules every database. */
  async start(): Promise<void> {
    const { store, target, workDir, jobs, logger } = this.deps;
    const killed = jobs.killLeftovers();
    if (killed > 0)
      logger.warn(`stopped ${killed} backup or restore process(es) a previous server left running`);
    const r = await recoverInterruptedBackups(store, target, workDir);
    if (r.failed > 0) logger.warn(`${r.failed} backup(s) a previous server left running were marked failed`);
    this.sync();
  }

  /** Schedules exactly the databases that exist now (after an add or a delete; cheap). */
  sync(): void {
    if (this.closed) return;
    const scheduler = this.schedulerIfTools();
    if (!scheduler) return;
    const { store, data } = this.deps;
    scheduler.sync(
      store.dataServices
        .list()
        .filter((ds) => ds.engine === 'postgres')
        .map((ds) => ({
          subject: subjectOf(ds),
          connection: () => {
            const current = store.dataServices.findById(ds.id);
            // A sleeping database is backed up too: pg_dump's connection wakes it (data/sleep.ts).
            if (!current || !['running', 'sleeping'].includes(data.state(current))) return null;
            return pgConnection(data, current);
          },
        })),
    );
  }

  /** What `berth status` shows; null when the host lacks the client tools (no database can run then). */
  status(ds: DataService): BackupStatusSummary | null {
    return this.schedulerIfTools()?.status(subjectOf(ds)) ?? null;
  }

  list(ds: DataService): BackupRecord[] {
    return this.deps.store.backups.list(subjectOf(ds));
  }

  /** Every backup of the environment, deleted databases' too (they outlive their service). */
  listEnvironment(environment: Environment): BackupRecord[] {
    return this.deps.store.backups.listOfEnvironment(environment.id);
  }

  /** `berth backup create`: runs now; resolves with its record, verified or failed with the reason. */
  create(ds: DataService): Promise<BackupRecord> {
    backedUp(ds);
    this.sync();
    return this.requireScheduler().create(subjectOf(ds));
  }

  setSchedule(ds: DataService, cron: string, keepDays: number): BackupSchedule {
    backedUp(ds);
    this.sync();
    return this.requireScheduler().setSchedule(subjectOf(ds), cron, keepDays);
  }

  /**
   * `berth backup restore ID --to NEW`: NEW is a new database service in the backup's environment, holding the
   * backup. The archive is checked before NEW is created; a failed restore removes NEW again.
   */
  async restoreTo(
    project: Project,
    environment: Environment,
    backupId: string,
    name: string,
    opts: { admin?: boolean } = {},
  ): Promise<RestoredTo> {
    const { store, data } = this.deps;
    const backup = this.backupIn(environment, backupId, opts.admin ?? false);
    if (store.services.find(project, name)) {
      throw new UserError(
        `Service "${name}" already exists in project "${project.name}"; restore into a new name with --to.`,
        { status: 409, code: 'conflict' },
      );
    }
    await this.checkBeforeRestore(backup);
    const { service, dataService } = await data.add(project, environment, name, 'postgres');
    this.sync();
    try {
      const r = await restorePgDump({
        store,
        target: this.deps.target,
        tools: this.tools(),
        backupId: backup.id,
        into: pgConnection(data, dataService),
        workDir: this.deps.workDir,
        jobs: this.deps.jobs,
      });
      return { service, dataService, entries: r.entries };
    } catch (err) {
      const removed = await this.deps.removeService(project, service).then(
        () => `${name} was removed again`,
        (e: unknown) => `${name} was left empty (removing it failed: ${errorMessage(e)})`,
      );
      this.sync();
      throw new UserError(
        `${stripDot(errorMessage(err))}; ${removed}, and the source database was not touched.`,
        {
          status: err instanceof UserError ? err.status : 500,
          code: 'restore_failed',
        },
      );
    }
  }

  /**
   * `berth backup restore ID --in-place`: a backup of the current state first, then the archive is restored
   * into a fresh database that takes the live one's name (the old one is dropped). Any failure before the
   * swap leaves the live database as it was.
   */
  async restoreInPlace(ds: DataService, backupId: string): Promise<RestoredInPlace> {
    const { store, data } = this.deps;
    const backup = store.backups.get(backupId);
    if (backup.serviceId !== ds.serviceId || backup.environmentId !== ds.environmentId) {
      throw new UserError(
        `Backup ${backupId} is not a backup of this database; restore it into a new service with --to.`,
        { status: 409, code: 'conflict' },
      );
    }
    await this.checkBeforeRestore(backup);
    const preRestore = await this.create(ds);
    if (!preRestore.verified) {
      throw new UserError(
        `The backup of the current state failed (${stripDot(preRestore.error ?? 'no reason given')}), so nothing was restored; the database is unchanged.`,
        { status: 409, code: 'backup_failed' },
      );
    }
    const pg = requirePostgres();
    const admin = { ...data.connection(ds), database: 'postgres' };
    const scratch = `${ds.database}_restore_${randomBytes(4).toString('hex')}`;
    const entries = await data.exclusive(ds, async () => {
      await createEmptyDatabase(pg, admin, scratch);
      let restored: number;
      try {
        const r = await restorePgDump({
          store,
          target: this.deps.target,
          tools: this.tools(),
          backupId: backup.id,
          into: { ...pgConnection(data, ds), database: scratch },
          workDir: this.deps.workDir,
          jobs: this.deps.jobs,
        });
        restored = r.entries;
      } catch (err) {
        await dropDatabase(pg, admin, scratch).catch(() => undefined);
        throw new UserError(`${stripDot(errorMessage(err))}; the database is unchanged.`, {
          status: err instanceof UserError ? err.status : 500,
          code: 'restore_failed',
        });
      }
      try {
        await swapDatabases(pg, admin, ds.database, scratch);
      } catch (err) {
        await dropDatabase(pg, admin, scratch).catch(() => undefined);
        throw new UserError(
          `Swapping in the restored database failed (${stripDot(errorMessage(err))}); the database is unchanged.`,
          { status: 500, code: 'restore_failed' },
        );
      }
      return restored;
    });
    return { preRestore, entries };
  }

  /**
   * Before a database service is deleted: one backup of each of its environments' databases that runs.
   * Throws a sentence (and nothing is deleted) when one fails.
   */
  async finalBackups(
    service: Service,
    environments: Environment[],
  ): Promise<{ taken: BackupRecord[]; notes: string[] }> {
    const { store } = this.deps;
    const taken: BackupRecord[] = [];
    const notes: string[] = [];
    for (const env of environments) {
      const ds = store.dataServices.find(service.id, env.id);
      if (!ds) continue;
      if (!hasBackups(ds)) {
        const note = `${service.name} is a ${ds.engine} service, which has no backups yet: no final backup was taken.`;
        if (!notes.includes(note)) notes.push(note);
        continue;
      }
      const b = await this.create(ds);
      if (!b.verified) {
        throw new UserError(
          `The final backup of ${service.name} (${env.name}) failed: ${stripDot(b.error ?? 'no reason given')}; nothing was deleted. Fix that, or delete without a final backup with --skip-final-backup.`,
          { status: 409, code: 'final_backup_failed' },
        );
      }
      taken.push(b);
      notes.push(`Final backup ${b.id} of ${service.name} (${env.name}) is verified.`);
    }
    return { taken, notes };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.scheduler?.close();
  }

  /** The archive must still be what was verified; a corrupted one is marked failed and refused here. */
  private async checkBeforeRestore(backup: BackupRecord): Promise<void> {
    const checked = await verifyBackup({
      store: this.deps.store,
      target: this.deps.target,
      tools: this.tools(),
      backupId: backup.id,
      jobs: this.deps.jobs,
    });
    if (!checked.verified) {
      throw new UserError(
        `Backup ${backup.id} cannot be restored: ${stripDot(checked.error ?? 'it is not verified')}; nothing was changed. Pick a verified one from \`berth backup list\`.`,
        { status: 409, code: 'backup_not_verified' },
      );
    }
  }

  /** A backup of this environment; for the admin, also one of an environment deleted since. */
  private backupIn(environment: Environment, backupId: string, admin: boolean): BackupRecord {
    const { store } = this.deps;
    const b = store.backups.find(backupId);
    const orphan = b !== null && admin && store.environments.findById(b.environmentId) === null;
    if (!b || (b.environmentId !== environment.id && !orphan)) {
      throw new UserError(
        `Backup "${backupId}" does not exist in environment ${environment.name}; list them with \`berth backup list --all\`.`,
        { status: 404, code: 'not_found' },
      );
    }
    return b;
  }

  private tools(): PgTools {
    return (this.deps.findTools ?? findPgTools)();
  }

  private requireScheduler(): BackupScheduler {
    const s = this.schedulerIfTools();
    if (s) return s;
    this.tools(); // throws the sentence naming the package
    throw new UserError('Backups are not available on this server.', { status: 503 });
  }

  private schedulerIfTools(): BackupScheduler | null {
    if (this.scheduler || this.closed) return this.scheduler;
    let tools: PgTools;
    try {
      tools = this.tools();
    } catch {
      return null;
    }
    fs.mkdirSync(this.deps.workDir, { recursive: true, mode: 0o700 });
    this.scheduler = new BackupScheduler({
      store: this.deps.store,
      target: this.deps.target,
      tools,
      workDir: this.deps.workDir,
      jobs: this.deps.jobs,
      onEvent: (e) => {
        if (e.kind === 'skipped') this.deps.logger.warn(e.reason);
        else if (!e.backup.verified) this.deps.logger.warn(`backup ${e.backup.id} failed: ${e.backup.error}`);
      },
    });
    return this.scheduler;
  }
}

export function subjectOf(ds: DataService): BackupSubject {
  return { serviceId: ds.serviceId, environmentId: ds.environmentId };
}

function pgConnection(data: DataServiceManager, ds: DataService): PgConnection {
  const c = data.connection(ds);
  return { host: c.host, port: c.port, user: c.username, password: c.password, database: c.database };
}

function stripDot(s: string): string {
  return s.trim().replace(/\.$/, '');
}

/** Backups are pg_dump archives: only PostgreSQL has them so far. */
function hasBackups(ds: DataService): boolean {
  return ds.engine === 'postgres';
}

/** Other engines (Redis) are refused in one sentence. */
function backedUp(ds: DataService): void {
  if (!hasBackups(ds)) {
    throw new UserError(
      `Backups are made of PostgreSQL databases only so far; this is a ${ds.engine} service (its own persistence keeps its data in its volume).`,
      { status: 409, code: 'conflict' },
    );
  }
}
