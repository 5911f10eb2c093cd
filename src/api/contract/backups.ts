import {
  boolean,
  integer,
  nullableInteger,
  nullableString,
  orNull,
  type Static,
  string,
  timestamp,
} from './schema.js';

/** One archive in the backup manifest, as `berth backup list --json` prints it. */
export const backupSchema = {
  type: 'object',
  required: ['id', 'createdAt', 'sizeBytes', 'verified', 'status', 'error', 'service', 'serviceId'],
  additionalProperties: false,
  properties: {
    id: string,
    createdAt: timestamp,
    /** Bytes of the archive as stored; null while it is being written or when nothing was written. */
    sizeBytes: nullableInteger,
    /** Read back from the target and checked (size, SHA-256, pg_restore --list). */
    verified: boolean,
    status: { type: 'string', enum: ['running', 'verified', 'failed'] },
    /** Why it failed or is no longer verified; null when it is fine. */
    error: nullableString,
    /** The database service's name; null once that service was deleted (its backups outlive it). */
    service: nullableString,
    serviceId: string,
    /** `GET /v1/backups` only: the environment's name, null once it was deleted. */
    environment: nullableString,
    /** A deleted database's backup: the name it had, and when the daily sweep prunes it (its keep window). */
    deletedName: nullableString,
    prunedAfter: orNull(timestamp),
  },
} as const;
export type BackupView = Static<typeof backupSchema>;

export const backupListSchema = { type: 'array', items: backupSchema } as const;
export type BackupList = Static<typeof backupListSchema>;

export const backupScheduleBodySchema = {
  type: 'object',
  required: ['cron', 'keepDays'],
  additionalProperties: false,
  properties: { cron: { type: 'string', minLength: 1 }, keepDays: { type: 'integer' } },
} as const;
export type BackupScheduleBody = Static<typeof backupScheduleBodySchema>;

/** A database's backup state for `berth status` and `berth backup schedule`. */
export const backupStatusSchema = {
  type: 'object',
  required: ['cron', 'keepDays', 'nextRunAt', 'running', 'last'],
  additionalProperties: false,
  properties: {
    /** Five cron fields, UTC. */
    cron: string,
    keepDays: integer,
    nextRunAt: { type: ['string', 'null'], description: 'ISO 8601 time' },
    running: boolean,
    /** The newest finished backup (its outcome and reason), null before the first. */
    last: orNull(backupSchema),
  },
} as const;
export type BackupStatus = Static<typeof backupStatusSchema>;

export const restoreBackupBodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    /** A new database service to restore into (the source is never touched). */
    to: { type: 'string', minLength: 1 },
    /** Restore over the database the backup came from, after a backup of its current state. */
    inPlace: { type: 'boolean' },
  },
} as const;
export type RestoreBackupBody = Static<typeof restoreBackupBodySchema>;

export const restoredBackupSchema = {
  type: 'object',
  required: ['backupId', 'service', 'entries', 'preRestoreBackupId', 'message'],
  additionalProperties: false,
  properties: {
    backupId: string,
    /** The database that now holds the backup. */
    service: string,
    /** Entries of the archive's table of contents restored. */
    entries: integer,
    /** --in-place: the backup taken of the state before the restore. */
    preRestoreBackupId: nullableString,
    message: string,
  },
} as const;
export type RestoredBackup = Static<typeof restoredBackupSchema>;
