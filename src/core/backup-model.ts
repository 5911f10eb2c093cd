/**
 * The backup manifest's model: one row per archive written to a backup target, so listing backups never
 * lists a bucket. Shared by src/store/backups.ts and src/backup/.
 */

/** Which database a backup belongs to: a database service in one environment. */
export interface BackupSubject {
  serviceId: string;
  environmentId: string;
}

/**
 * `pg_dump`: a logical `pg_dump -Fc` archive; `redis_rdb`: a Redis RDB snapshot. Base backups and WAL (PITR)
 * will add their own kinds.
 */
export type BackupKind = 'pg_dump' | 'redis_rdb';

/** running: being written; verified: read back and checked; failed: see `error`. */
export type BackupStatus = 'running' | 'verified' | 'failed';

export interface BackupRecord extends BackupSubject {
  id: string;
  kind: BackupKind;
  status: BackupStatus;
  /** The archive's key in the backup target. */
  key: string;
  createdAt: string;
  finishedAt: string | null;
  sizeBytes: number | null;
  /** Hex SHA-256 of the archive's bytes as written. */
  sha256: string | null;
  verified: boolean;
  /** One sentence saying why the backup failed or is no longer verified; null when it is fine. */
  error: string | null;
}

/** A database's backup schedule: cron in UTC and how many days archives are kept. */
export interface BackupSchedule extends BackupSubject {
  cron: string;
  keepDays: number;
}

export const DEFAULT_BACKUP_CRON = '0 */6 * * *';
export const DEFAULT_KEEP_DAYS = 30;

/** A deleted database whose backups are kept `keepDays` from `deletedAt`, then pruned. */
export interface DeletedDatabase extends BackupSubject {
  name: string;
  engine: string;
  keepDays: number;
  deletedAt: string;
}
