import { integer, type Static, string } from './schema.js';

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
