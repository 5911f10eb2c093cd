import {
  boolean,
  integer,
  nullableInteger,
  nullableString,
  type Static,
  string,
  timestamp,
} from './schema.js';

const nullableTimestamp = { type: ['string', 'null'], description: 'ISO 8601 time' } as const;

/** A base backup of point-in-time restore. */
export const baseBackupSchema = {
  type: 'object',
  required: ['id', 'status', 'createdAt', 'finishedAt', 'sizeBytes', 'error'],
  additionalProperties: false,
  properties: {
    id: string,
    status: { type: 'string', enum: ['running', 'verified', 'failed'] },
    createdAt: timestamp,
    finishedAt: nullableTimestamp,
    sizeBytes: nullableInteger,
    /** Why it failed; null when it did not. */
    error: nullableString,
  },
} as const;
export type BaseBackupView = Static<typeof baseBackupSchema>;

/** `berth db restore --list-window --json`: the instants a database can be restored to, and its archiving. */
export const pitrWindowSchema = {
  type: 'object',
  required: [
    'service',
    'earliest',
    'latest',
    'ranges',
    'windowDays',
    'tailSeconds',
    'baseBackupCron',
    'nextBaseBackupAt',
    'waitingWalFiles',
    'shippingError',
    'lastShippedAt',
    'lastBaseBackup',
    'baseBackupRunning',
  ],
  additionalProperties: false,
  properties: {
    service: string,
    /** The earliest and latest restorable instants; null while the archive has no usable base backup. */
    earliest: nullableTimestamp,
    latest: nullableTimestamp,
    /** The window as disjoint ranges, oldest first: more than one where WAL is missing between them. */
    ranges: {
      type: 'array',
      items: {
        type: 'object',
        required: ['earliest', 'latest'],
        additionalProperties: false,
        properties: { earliest: timestamp, latest: timestamp },
      },
    },
    windowDays: integer,
    /** How often the WAL being written is shipped (about the most a lost volume loses), in seconds; 0: never. */
    tailSeconds: integer,
    baseBackupCron: string,
    nextBaseBackupAt: nullableTimestamp,
    /** WAL files in the database's spool not shipped to the backup target yet. */
    waitingWalFiles: integer,
    /** Why shipping WAL failed (retried every second), or that WAL was dropped at the spool's cap; null when it works. */
    shippingError: nullableString,
    lastShippedAt: nullableTimestamp,
    lastBaseBackup: { anyOf: [baseBackupSchema, { type: 'null' }] },
    baseBackupRunning: boolean,
  },
} as const;
export type PitrWindow = Static<typeof pitrWindowSchema>;

/** `berth db restore --time T --name NEW`. */
export const pitrRestoreBodySchema = {
  type: 'object',
  required: ['time', 'name'],
  additionalProperties: false,
  properties: {
    /** RFC 3339 with its zone. */
    time: { type: 'string', minLength: 1 },
    name: { type: 'string', minLength: 1 },
  },
} as const;
export type PitrRestoreBody = Static<typeof pitrRestoreBodySchema>;

/** `berth db restore --window-days N --base-backups CRON`. */
export const pitrSettingsBodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    windowDays: integer,
    baseBackupCron: { type: 'string', minLength: 1 },
    /** How often the WAL being written is shipped, in seconds; 0: finished WAL files only. */
    tailSeconds: integer,
  },
} as const;
export type PitrSettingsBody = Static<typeof pitrSettingsBodySchema>;

/** What `berth status` shows of a PostgreSQL database's point-in-time restore. */
export const pitrSummarySchema = {
  type: 'object',
  required: ['earliest', 'latest', 'problem'],
  additionalProperties: false,
  properties: {
    earliest: nullableTimestamp,
    latest: nullableTimestamp,
    /** Why archiving or the last base backup failed, one sentence; null when both work. */
    problem: nullableString,
  },
} as const;
export type PitrSummary = Static<typeof pitrSummarySchema>;
