import { nullableInteger, nullableString, type Static, string, stringList, timestamp } from './schema.js';

export const CRON_RUN_TRIGGERS = ['schedule', 'manual'] as const;
export const CRON_RUN_STATUSES = ['running', 'succeeded', 'failed', 'skipped', 'timed_out'] as const;

/** One run (or skipped run) of a cronSchedule service. */
export const cronRunSchema = {
  type: 'object',
  required: ['id', 'deploymentId', 'trigger', 'status', 'startedAt', 'endedAt', 'exitCode', 'reason', 'logs'],
  additionalProperties: false,
  properties: {
    id: string,
    deploymentId: string,
    trigger: { type: 'string', enum: CRON_RUN_TRIGGERS },
    status: { type: 'string', enum: CRON_RUN_STATUSES },
    startedAt: timestamp,
    /** null while it runs. */
    endedAt: { type: ['string', 'null'], description: 'ISO 8601 time' },
    /** The start command's exit code; null while running, when skipped, killed by a signal, or unknown. */
    exitCode: nullableInteger,
    /** Why it was skipped, timed out or failed, in one sentence; null when it succeeded or runs. */
    reason: nullableString,
    /** Its output (the last lines of stdout and stderr), once it ended. */
    logs: stringList,
  },
} as const;
export type CronRun = Static<typeof cronRunSchema>;

export const cronRunListSchema = { type: 'array', items: cronRunSchema } as const;

export const cronRunsQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { limit: { type: 'integer', minimum: 1, maximum: 1000 } },
} as const;
export type CronRunsQuery = Static<typeof cronRunsQuerySchema>;

/** Scheduled services also answer when they run next. */
export const cronScheduleSchema = {
  type: 'object',
  required: ['schedule', 'nextRunAt'],
  additionalProperties: false,
  properties: { schedule: string, nextRunAt: { type: ['string', 'null'], description: 'ISO 8601 time' } },
} as const;
