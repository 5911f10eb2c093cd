import { integer, nullableString, type Static, string, stringList, timestamp } from './schema.js';

export const environmentSummarySchema = {
  type: 'object',
  required: ['name', 'kind', 'branch', 'createdAt'],
  additionalProperties: false,
  properties: {
    name: string,
    /** `preview`: made by a branch push or pull request, which `branch` names. */
    kind: { type: 'string', enum: ['persistent', 'preview'] },
    branch: nullableString,
    createdAt: timestamp,
  },
} as const;
export type EnvironmentSummary = Static<typeof environmentSummarySchema>;
export const environmentListSchema = { type: 'array', items: environmentSummarySchema } as const;

export const createEnvironmentBodySchema = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1 }, duplicate: string },
} as const;
export type CreateEnvironmentBody = Static<typeof createEnvironmentBodySchema>;

export const createdEnvironmentSchema = {
  type: 'object',
  required: ['name', 'createdAt', 'deploymentIds'],
  additionalProperties: false,
  properties: { name: string, createdAt: timestamp, deploymentIds: stringList },
} as const;
export type CreatedEnvironment = Static<typeof createdEnvironmentSchema>;

export const deletedEnvironmentSchema = {
  type: 'object',
  required: ['name', 'deployments', 'filesRemoved'],
  additionalProperties: false,
  properties: {
    name: string,
    deployments: integer,
    /** Source snapshots, build artifacts and log files removed. */
    filesRemoved: integer,
    /** A database's final backup, where its volume stays (absent from older servers). */
    notes: stringList,
  },
} as const;
export type DeletedEnvironment = Static<typeof deletedEnvironmentSchema>;
