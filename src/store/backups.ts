import { randomUUID } from 'node:crypto';
import type {
  BackupKind,
  BackupRecord,
  BackupSchedule,
  BackupStatus,
  BackupSubject,
  DeletedDatabase,
} from '../core/backup-model.js';
import { NotFoundError } from '../core/errors.js';
import { now, type Row, type StoreContext } from './context.js';

/**
 * Tables `backups` (the manifest of archives in a backup target) and `backup_schedules`. A backup row is
 * written when its run starts (status `running`), so a daemon that dies mid-run finds it and fails it.
 */
export class Backups {
  constructor(private readonly ctx: StoreContext) {}

  /** Records a run that is starting; `keyOf` names the archive's key from the new row's id. */
  begin(
    subject: BackupSubject,
    kind: BackupKind,
    keyOf: (id: string, createdAt: string) => string,
  ): BackupRecord {
    const id = randomUUID();
    const createdAt = now();
    this.ctx.db
      .prepare(
        `INSERT INTO backups (id, service_id, environment_id, kind, status, key, created_at)
         VALUES (?, ?, ?, ?, 'running', ?, ?)`,
      )
      .run(id, subject.serviceId, subject.environmentId, kind, keyOf(id, createdAt), createdAt);
    return this.get(id);
  }

  /** The archive was read back from the target and checked: these are its size and checksum. */
  markVerified(id: string, sizeBytes: number, sha256: string): BackupRecord {
    this.finish(id, 'verified', null, sizeBytes, sha256);
    return this.get(id);
  }

  /**
   * The run failed, or a later check found the archive unreadable. Size and checksum are kept when known
   * (what was written), so the record still says what the archive should have been.
   */
  markFailed(id: string, error: string, written?: { sizeBytes: number; sha256: string }): BackupRecord {
    this.finish(id, 'failed', error, written?.sizeBytes ?? null, written?.sha256 ?? null);
    return this.get(id);
  }

  private finish(
    id: string,
    status: BackupStatus,
    error: string | null,
    sizeBytes: number | null,
    sha256: string | null,
  ): void {
    this.ctx.db
      .prepare(
        `UPDATE backups SET status = ?, error = ?, size_bytes = COALESCE(?, size_bytes),
           sha256 = COALESCE(?, sha256), finished_at = COALESCE(finished_at, ?) WHERE id = ?`,
      )
      .run(status, error, sizeBytes, sha256, now(), id);
  }

  find(id: string): BackupRecord | null {
    const r = this.ctx.db.prepare('SELECT * FROM backups WHERE id = ?').get(id) as Row | undefined;
    return r ? toBackup(r) : null;
  }

  get(id: string): BackupRecord {
    const b = this.find(id);
    if (!b) throw new NotFoundError(`Backup "${id}" does not exist; list them with \`berth backup list\`.`);
    return b;
  }

  /** A database's backups, newest first. */
  list(subject: BackupSubject): BackupRecord[] {
    return (
      this.ctx.db
        .prepare(
          `SELECT * FROM backups WHERE service_id = ? AND environment_id = ?
           ORDER BY created_at DESC, rowid DESC`,
        )
        .all(subject.serviceId, subject.environmentId) as Row[]
    ).map(toBackup);
  }

  /** Every backup on record, newest first. */
  listAll(): BackupRecord[] {
    return (
      this.ctx.db.prepare('SELECT * FROM backups ORDER BY created_at DESC, rowid DESC').all() as Row[]
    ).map(toBackup);
  }

  /** Every backup taken in an environment (of databases deleted since too), newest first. */
  listOfEnvironment(environmentId: string): BackupRecord[] {
    return (
      this.ctx.db
        .prepare('SELECT * FROM backups WHERE environment_id = ? ORDER BY created_at DESC, rowid DESC')
        .all(environmentId) as Row[]
    ).map(toBackup);
  }

  /** The newest backup that is no longer running: the outcome `berth status` shows. */
  findLatestFinished(subject: BackupSubject): BackupRecord | null {
    return this.list(subject).find((b) => b.status !== 'running') ?? null;
  }

  findNewestVerified(subject: BackupSubject): BackupRecord | null {
    return this.list(subject).find((b) => b.status === 'verified') ?? null;
  }

  /** Finished backups created before `cutoff` (ISO time), oldest first. */
  listFinishedBefore(subject: BackupSubject, cutoff: string): BackupRecord[] {
    return (
      this.ctx.db
        .prepare(
          `SELECT * FROM backups WHERE service_id = ? AND environment_id = ? AND status != 'running'
             AND created_at < ? ORDER BY created_at ASC, rowid ASC`,
        )
        .all(subject.serviceId, subject.environmentId, cutoff) as Row[]
    ).map(toBackup);
  }

  delete(id: string): void {
    this.ctx.db.prepare('DELETE FROM backups WHERE id = ?').run(id);
  }

  listRunning(): BackupRecord[] {
    return (this.ctx.db.prepare(`SELECT * FROM backups WHERE status = 'running'`).all() as Row[]).map(
      toBackup,
    );
  }

  /** At daemon start: runs a previous daemon left `running` can never finish; fails them with `reason`. */
  failRunning(reason: string): number {
    return this.ctx.db
      .prepare(`UPDATE backups SET status = 'failed', error = ?, finished_at = ? WHERE status = 'running'`)
      .run(reason, now()).changes;
  }

  findSchedule(subject: BackupSubject): BackupSchedule | null {
    const r = this.ctx.db
      .prepare('SELECT * FROM backup_schedules WHERE service_id = ? AND environment_id = ?')
      .get(subject.serviceId, subject.environmentId) as Row | undefined;
    return r ? toSchedule(r) : null;
  }

  setSchedule(schedule: BackupSchedule): void {
    this.ctx.db
      .prepare(
        `INSERT INTO backup_schedules (service_id, environment_id, cron, keep_days, updated_at)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (service_id, environment_id) DO UPDATE SET cron = excluded.cron,
           keep_days = excluded.keep_days, updated_at = excluded.updated_at`,
      )
      .run(schedule.serviceId, schedule.environmentId, schedule.cron, schedule.keepDays, now());
  }

  /** A database was deleted (again: the newest deletion counts); its backups are kept by this record. */
  recordDeleted(d: DeletedDatabase): void {
    this.ctx.db
      .prepare(
        `INSERT INTO deleted_databases (service_id, environment_id, name, engine, keep_days, deleted_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (service_id, environment_id) DO UPDATE SET name = excluded.name, engine = excluded.engine,
           keep_days = excluded.keep_days, deleted_at = excluded.deleted_at`,
      )
      .run(d.serviceId, d.environmentId, d.name, d.engine, d.keepDays, d.deletedAt);
  }

  findDeleted(subject: BackupSubject): DeletedDatabase | null {
    const r = this.ctx.db
      .prepare('SELECT * FROM deleted_databases WHERE service_id = ? AND environment_id = ?')
      .get(subject.serviceId, subject.environmentId) as Row | undefined;
    return r ? toDeleted(r) : null;
  }

  /** The most recently deleted database of that name in the environment. */
  findDeletedByName(environmentId: string, name: string): DeletedDatabase | null {
    const r = this.ctx.db
      .prepare(
        'SELECT * FROM deleted_databases WHERE environment_id = ? AND name = ? ORDER BY deleted_at DESC LIMIT 1',
      )
      .get(environmentId, name) as Row | undefined;
    return r ? toDeleted(r) : null;
  }

  forgetDeleted(subject: BackupSubject): void {
    this.ctx.db
      .prepare('DELETE FROM deleted_databases WHERE service_id = ? AND environment_id = ?')
      .run(subject.serviceId, subject.environmentId);
  }

  /** Databases that have backups (or a deletion record) but no data service any more: deleted ones. */
  listSubjectsWithoutDatabase(): BackupSubject[] {
    return (
      this.ctx.db
        .prepare(
          `SELECT service_id, environment_id FROM backups
           UNION SELECT service_id, environment_id FROM deleted_databases
           EXCEPT SELECT service_id, environment_id FROM data_services`,
        )
        .all() as Row[]
    ).map((r) => ({ serviceId: r.service_id as string, environmentId: r.environment_id as string }));
  }

  deleteSchedule(subject: BackupSubject): void {
    this.ctx.db
      .prepare('DELETE FROM backup_schedules WHERE service_id = ? AND environment_id = ?')
      .run(subject.serviceId, subject.environmentId);
  }
}

function toBackup(r: Row): BackupRecord {
  const status = r.status as BackupStatus;
  return {
    id: r.id as string,
    serviceId: r.service_id as string,
    environmentId: r.environment_id as string,
    kind: r.kind as BackupKind,
    status,
    key: r.key as string,
    createdAt: r.created_at as string,
    finishedAt: (r.finished_at as string | null) ?? null,
    sizeBytes: (r.size_bytes as number | null) ?? null,
    sha256: (r.sha256 as string | null) ?? null,
    verified: status === 'verified',
    error: (r.error as string | null) ?? null,
  };
}

function toDeleted(r: Row): DeletedDatabase {
  return {
    serviceId: r.service_id as string,
    environmentId: r.environment_id as string,
    name: r.name as string,
    engine: r.engine as string,
    keepDays: r.keep_days as number,
    deletedAt: r.deleted_at as string,
  };
}

function toSchedule(r: Row): BackupSchedule {
  return {
    serviceId: r.service_id as string,
    environmentId: r.environment_id as string,
    cron: r.cron as string,
    keepDays: r.keep_days as number,
  };
}
