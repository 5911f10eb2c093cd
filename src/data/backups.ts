/**
 * Backups of the database services (src/backup wired to DataServiceManager): one scheduler over the server's
 * backup target, create/list/schedule/restore for the API, final backups before a database is deleted.
 */

import fs from 'node:fs';
import { Cron } from 'croner';
import type { Logger } from 'pino';
import type { PgTools } from '../backup/pg-argv.js';
import { findPgTools } from '../backup/pg-tools.js';
import { recoverInterruptedBackups } from '../backup/recovery.js';
import { pruneDeletedDatabases, pruneDeletedWalArchives } from '../backup/retention.js';
import { BackupScheduler, type BackupStatusSummary } from '../backup/scheduler.js';
import type { BackupTarget } from '../backup/target.js';
import {
  type BackupRecord,
  type BackupSchedule,
  type BackupSubject,
  DEFAULT_KEEP_DAYS,
  type DeletedDatabase,
} from '../core/backup-model.js';
import { errorMessage, UserError } from '../core/errors.js';
import type { Environment, Project, Service } from '../core/model.js';
import type { JobGroups } from '../runtime/job-groups.js';
import type { DataService } from '../store/data-services.js';
import type { Store } from '../store/store.js';
import {
  type DatabaseBackupKind,
  hasTools,
  type RestoredService,
  type RestoreWording,
  stripDot,
} from './backup-kind.js';
import type { DataServiceManager } from './data-services.js';
import { postgresBackupKind } from './postgres/backups.js';
import { redisBackupKind } from './redis/backups.js';

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

export type RestoredTo = RestoredService & { wording: RestoreWording };

/** When deleted databases' backups are swept (daily, UTC; see pruneDeletedDatabases). */
export const DELETED_SWEEP_CRON = '30 4 * * *';

export interface RestoredInPlace {
  preRestore: BackupRecord;
  entries: number;
  wording: RestoreWording;
}

export class DatabaseBackups {
  private scheduler: BackupScheduler | null = null;
  private sweep: Cron | null = null;
  /** The sweep of deleted databases running now (at most one); close() stops it and waits for it. */
  private sweeping: Promise<void> | null = null;
  private readonly stopping = new AbortController();
  private closed = false;
  /** Each engine's backups (postgres/backups.ts, redis/backups.ts). */
  private readonly kinds: DatabaseBackupKind[];

  constructor(private readonly deps: DatabaseBackupsDeps) {
    const tools = () => (deps.findTools ?? findPgTools)();
    this.kinds = [postgresBackupKind(deps, tools), redisBackupKind(deps)];
  }

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
    // Not awaited: a deleted database's archive can be thousands of objects, which must not hold up the start.
    this.startSweep();
    this.sweep = new Cron(DELETED_SWEEP_CRON, { utcOffset: 0 }, () => this.startSweep());
  }

  private startSweep(): void {
    if (this.sweeping || this.closed) return;
    this.sweeping = this.sweepDeleted().finally(() => {
      this.sweeping = null;
    });
  }

  /**
   * Prunes the backups of databases deleted longer ago than their keep window, and their point-in-time
   * archives past their restore window; never rejects.
   */
  async sweepDeleted(now?: Date): Promise<void> {
    if (this.closed) return;
    const { logger } = this.deps;
    const signal = this.stopping.signal;
    try {
      const r = await pruneDeletedDatabases({
        store: this.deps.store,
        target: this.deps.target,
        now,
        signal,
      });
      if (r.pruned.length > 0) {
        logger.info(
          `pruned ${r.pruned.length} backup(s) of ${r.databases} database(s) deleted past their keep window`,
        );
      }
      for (const f of r.failed)
        logger.warn(`backup ${f.id} of a deleted database could not be pruned: ${f.reason}`);
      const w = await pruneDeletedWalArchives({
        store: this.deps.store,
        target: this.deps.target,
        now,
        signal,
      });
      if (w.databases > 0) {
        logger.info(
          `pruned the point-in-time archives (${w.files} files) of ${w.databases} database(s) deleted past their restore window`,
        );
      }
      for (const f of w.failed) logger.warn(f);
    } catch (err) {
      logger.warn(`the sweep of deleted databases' backups failed: ${errorMessage(err)}`);
    }
  }

  /**
   * ds is being deleted: its backups stay for the keep window it had, from now (then the daily sweep prunes
   * them), and `berth backup list -s NAME` still finds them by its name.
   */
  recordDeleted(ds: DataService, name: string): DeletedDatabase {
    const subject = subjectOf(ds);
    const keepDays = this.deps.store.backups.findSchedule(subject)?.keepDays ?? DEFAULT_KEEP_DAYS;
    const record = { ...subject, name, engine: ds.engine, keepDays, deletedAt: new Date().toISOString() };
    this.deps.store.backups.recordDeleted(record);
    return record;
  }

  /** The backups of the database last deleted under `name` in the environment, or null when there was none. */
  listDeleted(
    environment: Environment,
    name: string,
  ): { deleted: DeletedDatabase; backups: BackupRecord[] } | null {
    const deleted = this.deps.store.backups.findDeletedByName(environment.id, name);
    return deleted ? { deleted, backups: this.deps.store.backups.list(deleted) } : null;
  }

  /** Schedules exactly the databases that exist now (after an add or a delete; cheap). */
  sync(): void {
    if (this.closed) return;
    const scheduler = this.ensureScheduler();
    const { store } = this.deps;
    const ready = this.kinds.filter(hasTools);
    scheduler.sync(
      store.dataServices.list().flatMap((ds) => {
        const kind = ready.find((k) => k.engine === ds.engine);
        if (!kind) return [];
        return [
          {
            subject: subjectOf(ds),
            method: kind.method,
            connection: () => {
              const current = store.dataServices.findById(ds.id);
              return current ? kind.connection(current) : null;
            },
          },
        ];
      }),
    );
  }

  /** What `berth status` shows; null when the host lacks the engine's backup tools. */
  status(ds: DataService): BackupStatusSummary | null {
    const kind = this.kinds.find((k) => k.engine === ds.engine);
    if (!kind || !hasTools(kind) || this.closed) return null;
    return this.ensureScheduler().status(subjectOf(ds));
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
    this.kindOf(ds).requireTools();
    this.sync();
    return this.ensureScheduler().create(subjectOf(ds));
  }

  setSchedule(ds: DataService, cron: string, keepDays: number): BackupSchedule {
    this.kindOf(ds).requireTools();
    this.sync();
    return this.ensureScheduler().setSchedule(subjectOf(ds), cron, keepDays);
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
    const { store } = this.deps;
    const backup = this.backupIn(environment, backupId, opts.admin ?? false);
    if (store.services.find(project, name)) {
      throw new UserError(
        `Service "${name}" already exists in project "${project.name}"; restore into a new name with --to.`,
        { status: 409, code: 'conflict' },
      );
    }
    const kind = this.kindOfBackup(backup);
    await this.checkBeforeRestore(backup);
    try {
      return { ...(await kind.restoreTo({ project, environment, name, backup })), wording: kind.wording };
    } finally {
      this.sync();
    }
  }

  /**
   * `berth backup restore ID --in-place`: a backup of the current state first, then the archive is restored
   * into a fresh database that takes the live one's name (the old one is dropped). Any failure before the
   * swap leaves the live database as it was.
   */
  async restoreInPlace(ds: DataService, backupId: string): Promise<RestoredInPlace> {
    const { store } = this.deps;
    const backup = store.backups.get(backupId);
    if (backup.serviceId !== ds.serviceId || backup.environmentId !== ds.environmentId) {
      throw new UserError(
        `Backup ${backupId} is not a backup of this database; restore it into a new service with --to.`,
        { status: 409, code: 'conflict' },
      );
    }
    const kind = this.kindOfBackup(backup);
    await this.checkBeforeRestore(backup);
    const preRestore = await this.create(ds);
    if (!preRestore.verified) {
      throw new UserError(
        `The backup of the current state failed (${stripDot(preRestore.error ?? 'no reason given')}), so nothing was restored; the database is unchanged.`,
        { status: 409, code: 'backup_failed' },
      );
    }
    const entries = await kind.restoreInPlace(ds, backup);
    return { preRestore, entries, wording: kind.wording };
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
      if (!this.kinds.some((k) => k.engine === ds.engine)) {
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
    this.sweep?.stop();
    this.stopping.abort();
    await this.sweeping;
    await this.scheduler?.close();
  }

  /** The archive must still be what was verified; a corrupted one is marked failed and refused here. */
  private async checkBeforeRestore(backup: BackupRecord): Promise<void> {
    const checked = await this.kindOfBackup(backup).method.verify({
      store: this.deps.store,
      target: this.deps.target,
      backupId: backup.id,
      workDir: this.deps.workDir,
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

  /** The backups of ds's engine, or one sentence when it has none. */
  private kindOf(ds: DataService): DatabaseBackupKind {
    const kind = this.kinds.find((k) => k.engine === ds.engine);
    if (!kind) {
      throw new UserError(`Backups are not made of ${ds.engine} services yet.`, {
        status: 409,
        code: 'conflict',
      });
    }
    return kind;
  }

  /** The engine a recorded archive is restored with. */
  private kindOfBackup(backup: BackupRecord): DatabaseBackupKind {
    const kind = this.kinds.find((k) => k.archiveKind === backup.kind);
    if (!kind) {
      throw new UserError(`Backup ${backup.id} is a ${backup.kind} archive, which cannot be restored here.`, {
        status: 409,
        code: 'conflict',
      });
    }
    kind.requireTools();
    return kind;
  }

  private ensureScheduler(): BackupScheduler {
    if (this.scheduler) return this.scheduler;
    if (this.closed) throw new UserError('The server is shutting down; try again.', { status: 503 });
    fs.mkdirSync(this.deps.workDir, { recursive: true, mode: 0o700 });
    this.scheduler = new BackupScheduler({
      store: this.deps.store,
      target: this.deps.target,
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
