import { backupStatusSchema } from './backups.js';
import { cronScheduleSchema } from './cron.js';
import { serviceKindSchema } from './data-services.js';
import { nullableStatusSchema } from './deployments.js';
import { pitrSummarySchema } from './pitr.js';
import { autoscaleStatusSchema, limitsStatusSchema } from './scale.js';
import {
  boolean,
  integer,
  nullableString,
  number,
  orNull,
  orNullEach,
  type Static,
  string,
  stringList,
  timestamp,
} from './schema.js';

export const projectSummarySchema = {
  type: 'object',
  required: ['id', 'name', 'createdAt'],
  additionalProperties: false,
  properties: { id: string, name: string, createdAt: timestamp },
} as const;
export type ProjectSummary = Static<typeof projectSummarySchema>;
export const projectListSchema = { type: 'array', items: projectSummarySchema } as const;

export const createdProjectSchema = {
  type: 'object',
  required: ['id', 'name', 'createdAt', 'environments'],
  additionalProperties: false,
  properties: {
    ...projectSummarySchema.properties,
    /** The `production` environment created with it. */
    environments: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'name'],
        additionalProperties: false,
        properties: { id: string, name: string },
      },
    },
  },
} as const;
export type CreatedProject = Static<typeof createdProjectSchema>;

/** A service's source settings: where it builds from in the repository and the remote it tracks. */
const sourceProperties = {
  rootDirectory: nullableString,
  configPath: nullableString,
  repoUrl: nullableString,
  repoBranch: nullableString,
  waitForChecks: boolean,
} as const;

export const serviceSummarySchema = {
  type: 'object',
  required: [
    'id',
    'name',
    'createdAt',
    'rootDirectory',
    'configPath',
    'repoUrl',
    'repoBranch',
    'waitForChecks',
  ],
  additionalProperties: false,
  properties: {
    id: string,
    name: string,
    createdAt: timestamp,
    ...sourceProperties,
    /** app, or a data service's engine (absent from older servers: app). */
    kind: serviceKindSchema,
  },
} as const;
export type ServiceSummary = Static<typeof serviceSummarySchema>;

export const projectDetailSchema = {
  type: 'object',
  required: ['id', 'name', 'createdAt', 'environments', 'services'],
  additionalProperties: false,
  properties: {
    ...projectSummarySchema.properties,
    environments: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'name', 'createdAt'],
        additionalProperties: false,
        properties: { id: string, name: string, createdAt: timestamp },
      },
    },
    services: { type: 'array', items: serviceSummarySchema },
  },
} as const;
export type ProjectDetail = Static<typeof projectDetailSchema>;

export const createProjectBodySchema = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1 } },
} as const;
export type CreateProjectBody = Static<typeof createProjectBodySchema>;

/** A service's source settings; null clears one, a missing key leaves it as it is. */
export const serviceSourcePatchSchema = { type: 'object', properties: sourceProperties } as const;
export type ServiceSourcePatch = Static<typeof serviceSourcePatchSchema>;

export const createServiceBodySchema = {
  type: 'object',
  required: ['name'],
  properties: { ...createProjectBodySchema.properties, ...sourceProperties },
} as const;
export type CreateServiceBody = Static<typeof createServiceBodySchema>;

/** The filesystem of the server's data dir (builds, logs, the database). */
export const diskSpaceSchema = {
  type: 'object',
  required: ['path', 'freeBytes', 'totalBytes'],
  additionalProperties: false,
  properties: { path: string, freeBytes: number, totalBytes: number },
} as const;
export type DiskSpace = Static<typeof diskSpaceSchema>;

export const serviceStatusSchema = {
  type: 'object',
  required: ['name', 'status', 'url', 'deploymentId', 'replicas'],
  additionalProperties: false,
  properties: {
    name: string,
    /** The latest deployment's status; null before the first. */
    status: nullableStatusSchema,
    url: nullableString,
    /** The active deployment. */
    deploymentId: nullableString,
    /** Running replicas of the active deployment. */
    replicas: integer,
    /** Replicas the active deployment should run (numReplicas, or what `berth scale` set); absent: none. */
    desiredReplicas: integer,
    /** app, or a data service's engine (absent from older servers: app). */
    kind: serviceKindSchema,
    /** A data service's state (running, starting, restarting, crashed, stopped, sleeping); null for apps. */
    state: nullableString,
    /** An app whose replicas sleep (sleepApplication) until the next request; absent from older servers. */
    sleeping: boolean,
    /** A database's backups: schedule, next run, last outcome (absent for apps; null without client tools). */
    backups: orNull(backupStatusSchema),
    /** A PostgreSQL database's restore window and what keeps it from growing (absent for other services). */
    pitr: pitrSummarySchema,
    /** A cron service's schedule (UTC) and next run; absent for other services. */
    cron: cronScheduleSchema,
    /** Present when the active deployment autoscales. */
    autoscale: autoscaleStatusSchema,
    /** Present when the active deployment's config sets resource limits. */
    limits: limitsStatusSchema,
  },
} as const;
export type ServiceStatus = Static<typeof serviceStatusSchema>;

export const environmentStatusSchema = {
  type: 'object',
  required: ['project', 'environment', 'services'],
  additionalProperties: false,
  properties: {
    project: string,
    environment: string,
    services: { type: 'array', items: serviceStatusSchema },
    /** Absent from older servers, null when unreadable. */
    disk: orNull(diskSpaceSchema),
  },
} as const;
export type EnvironmentStatus = Static<typeof environmentStatusSchema>;

/** A service's settings in one environment (Railway's dashboard settings; `berth service update`). */
const settingsProperties = {
  buildCommand: string,
  watchPatterns: stringList,
  startCommand: string,
  preDeployCommand: stringList,
  cronSchedule: string,
  healthcheckPath: string,
  numReplicas: integer,
} as const;

/** The settings set (absent = not set; the config file or a default decides). */
export const serviceSettingsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: settingsProperties,
} as const;
export type ServiceSettingsView = Static<typeof serviceSettingsSchema>;

/** Keys to change; null clears one. */
export const serviceSettingsPatchSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: orNullEach(settingsProperties),
} as const;
export type ServiceSettingsPatch = Static<typeof serviceSettingsPatchSchema>;
