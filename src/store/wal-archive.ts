import { randomUUID } from 'node:crypto';
import type { BackupSubject } from '../core/backup-model.js';
import type { BaseBackupRecord, PitrSettings, WalFileRecord } from '../core/pitr-model.js';
import { now, type Row, type StoreContext } from './context.js';

/**
 * Tables `base_backups`, `wal_files`, `wal_tails` and `pitr_settings`: what point-in-time recovery has stored of each
 * database in the backup target. A base backup row is written when its run starts (`running`), so a daemon
 * that dies mid-run finds and fails it; a WAL file's row is written once its object is stored.
 */
export class WalArchive {
  constructor(private readonly ctx: StoreContext) {}

  beginBase(subject: BackupSubject, keyOf: (id: string, createdAt: string) => string): BaseBackupRecord {
    const id = randomUUID();
    const createdAt = now();
    this.ctx.db
      .prepare(
        `INSERT INTO base_backups (id, service_id, environment_id, status, key, created_at)
         VALUES (?, ?, ?, 'running', ?, ?)`,
      )
      .run(id, subject.serviceId, subject.environmentId, keyOf(id, createdAt), createdAt);
    return this.getBase(id);
  }

  markBaseVerified(id: string, o: { startWal: string; sizeBytes: number; sha256: string }): BaseBackupRecord {
    this.ctx.db
      .prepare(
        `UPDATE base_backups SET status = 'verified', error = NULL, start_wal = ?, size_bytes = ?, sha256 = ?,
           finished_at = ? WHERE id = ?`,
      )
      .run(o.startWal, o.sizeBytes, o.sha256, now(), id);
    return this.getBase(id);
  }

  /** Its backup history file was archived: the WAL file it ends in (recovery is consistent after it). */
  setBaseEnd(id: string, endWal: string): void {
    this.ctx.db.prepare('UPDATE base_backups SET end_wal = ? WHERE id = ?').run(endWal, id);
  }

  findBase(id: string): BaseBackupRecord | null {
    const r = this.ctx.db.prepare('SELECT * FROM base_backups WHERE id = ?').get(id) as Row | undefined;
    return r ? toBase(r) : null;
  }

  markBaseFailed(id: string, error: string): BaseBackupRecord {
    this.ctx.db
      .prepare(`UPDATE base_backups SET status = 'failed', error = ?, finished_at = ? WHERE id = ?`)
      .run(error, now(), id);
    return this.getBase(id);
  }

  getBase(id: string): BaseBackupRecord {
    const r = this.ctx.db.prepare('SELECT * FROM base_backups WHERE id = ?').get(id) as Row | undefined;
    if (!r) throw new Error(`base backup ${id} is not on record`);
    return toBase(r);
  }

  /** A database's base backups, oldest first. */
  listBases(subject: BackupSubject): BaseBackupRecord[] {
    return (
      this.ctx.db
        .prepare(
          `SELECT * FROM base_backups WHERE service_id = ? AND environment_id = ?
           ORDER BY created_at ASC, rowid ASC`,
        )
        .all(subject.serviceId, subject.environmentId) as Row[]
    ).map(toBase);
  }

  deleteBase(id: string): void {
    this.ctx.db.prepare('DELETE FROM base_backups WHERE id = ?').run(id);
  }

  /** At daemon start: runs a previous daemon left `running` can never finish. */
  failRunningBases(reason: string): BaseBackupRecord[] {
    const rows = (
      this.ctx.db.prepare(`SELECT * FROM base_backups WHERE status = 'running'`).all() as Row[]
    ).map(toBase);
    for (const b of rows) this.markBaseFailed(b.id, reason);
    return rows;
  }

  /** Records a stored WAL file (again: a re-shipped file replaces its row). */
  recordWal(f: Omit<WalFileRecord, 'shippedAt'>): void {
    this.ctx.db
      .prepare(
        `INSERT OR REPLACE INTO wal_files (service_id, environment_id, name, key, size_bytes, sha256, closed_at, shipped_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(f.serviceId, f.environmentId, f.name, f.key, f.sizeBytes, f.sha256, f.closedAt, now());
  }

  /** A database's WAL files, in name order (which is WAL order within a timeline). */
  listWal(subject: BackupSubject): WalFileRecord[] {
    return (
      this.ctx.db
        .prepare('SELECT * FROM wal_files WHERE service_id = ? AND environment_id = ? ORDER BY name ASC')
        .all(subject.serviceId, subject.environmentId) as Row[]
    ).map(toWal);
  }

  deleteWal(subject: BackupSubject, name: string): void {
    this.ctx.db
      .prepare('DELETE FROM wal_files WHERE service_id = ? AND environment_id = ? AND name = ?')
      .run(subject.serviceId, subject.environmentId, name);
  }

  /** Whether this WAL file is in the archive. */
  hasWal(subject: BackupSubject, name: string): boolean {
    return (
      this.ctx.db
        .prepare('SELECT 1 FROM wal_files WHERE service_id = ? AND environment_id = ? AND name = ?')
        .get(subject.serviceId, subject.environmentId, name) !== undefined
    );
  }

  /** The database's shipped WAL tail (table `wal_tails`), if it has one. */
  findTail(subject: BackupSubject): WalFileRecord | null {
    const r = this.ctx.db
      .prepare('SELECT * FROM wal_tails WHERE service_id = ? AND environment_id = ?')
      .get(subject.serviceId, subject.environmentId) as Row | undefined;
    return r ? { ...toWal(r), segmentBytes: Number(r.segment_bytes) } : null;
  }

  /** Records a stored tail in place of the one before. */
  setTail(f: Omit<WalFileRecord, 'shippedAt'> & { segmentBytes: number }): void {
    this.ctx.db
      .prepare(
        `INSERT OR REPLACE INTO wal_tails (service_id, environment_id, name, key, size_bytes, sha256, segment_bytes,
           closed_at, shipped_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        f.serviceId,
        f.environmentId,
        f.name,
        f.key,
        f.sizeBytes,
        f.sha256,
        f.segmentBytes,
        f.closedAt,
        now(),
      );
  }

  deleteTail(subject: BackupSubject): void {
    this.ctx.db
      .prepare('DELETE FROM wal_tails WHERE service_id = ? AND environment_id = ?')
      .run(subject.serviceId, subject.environmentId);
  }

  findSettings(subject: BackupSubject): PitrSettings | null {
    const r = this.ctx.db
      .prepare('SELECT * FROM pitr_settings WHERE service_id = ? AND environment_id = ?')
      .get(subject.serviceId, subject.environmentId) as Row | undefined;
    return r
      ? {
          serviceId: String(r.service_id),
          environmentId: String(r.environment_id),
          baseCron: String(r.base_cron),
          windowDays: Number(r.window_days),
          tailSeconds: Number(r.tail_seconds),
        }
      : null;
  }

  setSettings(s: PitrSettings): void {
    this.ctx.db
      .prepare(
        `INSERT INTO pitr_settings (service_id, environment_id, base_cron, window_days, tail_seconds, updated_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (service_id, environment_id) DO UPDATE SET base_cron = excluded.base_cron,
           window_days = excluded.window_days, tail_seconds = excluded.tail_seconds, updated_at = excluded.updated_at`,
      )
      .run(s.serviceId, s.environmentId, s.baseCron, s.windowDays, s.tailSeconds, now());
  }

  /** Databases with anything archived but no data service any more: deleted ones, whose archive waits to be pruned. */
  subjectsWithoutDatabase(): BackupSubject[] {
    return (
      this.ctx.db
        .prepare(
          `SELECT service_id, environment_id FROM base_backups
           UNION SELECT service_id, environment_id FROM wal_files
           UNION SELECT service_id, environment_id FROM wal_tails
           EXCEPT SELECT service_id, environment_id FROM data_services`,
        )
        .all() as Row[]
    ).map((r) => ({ serviceId: String(r.service_id), environmentId: String(r.environment_id) }));
  }

  /** Forgets a deleted database's archive settings (its files' rows go one by one as their objects do). */
  deleteSettings(subject: BackupSubject): void {
    this.ctx.db
      .prepare('DELETE FROM pitr_settings WHERE service_id = ? AND environment_id = ?')
      .run(subject.serviceId, subject.environmentId);
  }
}

function toBase(r: Row): BaseBackupRecord {
  return {
    id: String(r.id),
    serviceId: String(r.service_id),
    environmentId: String(r.environment_id),
    status: String(r.status) as BaseBackupRecord['status'],
    key: String(r.key),
    startWal: r.start_wal === null ? null : String(r.start_wal),
    endWal: r.end_wal === null ? null : String(r.end_wal),
    sizeBytes: r.size_bytes === null ? null : Number(r.size_bytes),
    sha256: r.sha256 === null ? null : String(r.sha256),
    error: r.error === null ? null : String(r.error),
    createdAt: String(r.created_at),
    finishedAt: r.finished_at === null ? null : String(r.finished_at),
  };
}

function toWal(r: Row): WalFileRecord {
  return {
    serviceId: String(r.service_id),
    environmentId: String(r.environment_id),
    name: String(r.name),
    key: String(r.key),
    sizeBytes: Number(r.size_bytes),
    sha256: String(r.sha256),
    closedAt: String(r.closed_at),
    shippedAt: String(r.shipped_at),
  };
}
