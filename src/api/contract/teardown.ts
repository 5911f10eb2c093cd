import { integer, type Static, string, stringList } from './schema.js';

/**
 * `?deleteData=1`: a data service's volume goes too (without it the volume stays on disk, and the answer's notes
 * say where); `?skipFinalBackup=1`: a database goes without the final backup otherwise taken first.
 */
export const deleteQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    deleteData: { type: 'string', enum: ['0', '1'] },
    skipFinalBackup: { type: 'string', enum: ['0', '1'] },
  },
} as const;
export type DeleteQuery = Static<typeof deleteQuerySchema>;

/** Deleting an environment: its databases' volumes always stay; `?skipFinalBackup=1` as above. */
export const deleteEnvironmentQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { skipFinalBackup: { type: 'string', enum: ['0', '1'] } },
} as const;
export type DeleteEnvironmentQuery = Static<typeof deleteEnvironmentQuerySchema>;

export const deletedServiceSchema = {
  type: 'object',
  required: ['name', 'deployments', 'filesRemoved'],
  additionalProperties: false,
  properties: {
    name: string,
    deployments: integer,
    /** Source snapshots, build artifacts, log files and sandbox directories removed. */
    filesRemoved: integer,
    /** A database's final backup, where its kept volume stays (absent from older servers). */
    notes: stringList,
  },
} as const;
export type DeletedService = Static<typeof deletedServiceSchema>;

export const deletedProjectSchema = {
  type: 'object',
  required: ['name', 'services', 'environments', 'deployments', 'filesRemoved'],
  additionalProperties: false,
  properties: {
    name: string,
    services: stringList,
    environments: stringList,
    deployments: integer,
    filesRemoved: integer,
    notes: stringList,
  },
} as const;
export type DeletedProject = Static<typeof deletedProjectSchema>;
