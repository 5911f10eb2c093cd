/**
 * Point-in-time recovery's model: base backups and shipped WAL files of a database, shared by
 * src/store/wal-archive.ts and src/backup/ (wal-archive.ts, base-backup.ts, pitr-window.ts).
 */
import type { BackupSubject } from './backup-model.js';

/** running: being written; verified: stored and read back; failed: see `error`. */
export type BaseBackupStatus = 'running' | 'verified' | 'failed';

export interface BaseBackupRecord extends BackupSubject {
  id: string;
  status: BaseBackupStatus;
  /** The tar's key in the backup target. */
  key: string;
  /** The WAL file its recovery starts from (backup_label's START WAL LOCATION). */
  startWal: string | null;
  /** The WAL file its backup ends in (from the backup history file the archive received). */
  endWal: string | null;
  sizeBytes: number | null;
  sha256: string | null;
  error: string | null;
  createdAt: string;
  /** When pg_basebackup finished: the earliest instant a recovery from it can stop at. */
  finishedAt: string | null;
}

/** One WAL file (a segment, a timeline history or a backup history file) in the backup target. */
export interface WalFileRecord extends BackupSubject {
  name: string;
  key: string;
  sizeBytes: number;
  sha256: string;
  /** When PostgreSQL closed it (the spool file's time): everything up to then is in it or before it. */
  closedAt: string;
  shippedAt: string;
  /**
   * Set on a tail (backup/wal-tail.ts): the stored bytes are the first part of a segment PostgreSQL was still
   * writing, and recovery pads them with zeros to this size. Its closedAt is when it was read.
   */
  segmentBytes?: number;
}

export interface PitrSettings extends BackupSubject {
  /** When base backups run (cron, UTC). */
  baseCron: string;
  /** How many days back a restore can go. */
  windowDays: number;
  /**
   * How often the WAL being written is shipped (the tail), in seconds: about the most a lost volume loses.
   * 0 ships finished WAL files only (then archive_timeout bounds the loss).
   */
  tailSeconds: number;
}

/**
 * Daily in the 03:00 UTC hour, at a minute of the database's own (from its ids), so a server's base backups do not
 * all start at once; never at minute 0, where the logical backups' schedules usually fall.
 */
export function defaultBaseBackupCron(subject: { serviceId: string; environmentId: string }): string {
  let h = 0;
  for (const c of `${subject.serviceId}:${subject.environmentId}`) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return `${1 + (h % 59)} 3 * * *`;
}
export const DEFAULT_WINDOW_DAYS = 7;
export const DEFAULT_TAIL_SECONDS = 1;
/** PostgreSQL's archive_timeout Berth starts a cluster with (Railway's); `berth db config set` changes it. */
export const DEFAULT_ARCHIVE_TIMEOUT = '60s';
