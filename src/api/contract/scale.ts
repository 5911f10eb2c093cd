import { integer, nullableInteger, nullableString, number, orNull, type Static, string } from './schema.js';

/** `berth scale --replicas N`. */
export const scaleBodySchema = {
  type: 'object',
  required: ['replicas'],
  additionalProperties: false,
  properties: { replicas: { type: 'integer', minimum: 1 } },
} as const;
export type ScaleBody = Static<typeof scaleBodySchema>;

/** Answered once the new replicas serve (or the removed ones drained). */
export const scaleResultSchema = {
  type: 'object',
  required: ['deploymentId', 'running', 'desired'],
  additionalProperties: false,
  properties: { deploymentId: string, running: integer, desired: integer },
} as const;
export type ScaleResult = Static<typeof scaleResultSchema>;

/** `berth status`: an autoscaled service's range and target (deploy.minReplicas, maxReplicas, targetCPUPercent). */
export const autoscaleStatusSchema = {
  type: 'object',
  required: ['minReplicas', 'maxReplicas', 'targetCPUPercent'],
  additionalProperties: false,
  properties: { minReplicas: integer, maxReplicas: integer, targetCPUPercent: integer },
} as const;
export type AutoscaleStatus = Static<typeof autoscaleStatusSchema>;

/** `berth status`: the per-replica limits the active deployment's config sets, and what came of them. */
export const limitsStatusSchema = {
  type: 'object',
  required: ['memoryBytes', 'cpus', 'pids', 'notEnforced', 'oomKills'],
  additionalProperties: false,
  properties: {
    memoryBytes: nullableInteger,
    cpus: orNull(number),
    pids: nullableInteger,
    /** Why (some of) them are not enforced on this host, one sentence; null when they are. */
    notEnforced: nullableString,
    /** Times its replicas were killed at their memory limit. */
    oomKills: integer,
  },
} as const;
export type LimitsStatus = Static<typeof limitsStatusSchema>;
