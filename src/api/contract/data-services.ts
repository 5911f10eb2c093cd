import { logLineSchema } from './deployments.js';
import { nullableInteger, nullableString, type Static, string } from './schema.js';

/** What a service is: an app built from source, a data service's engine, or an object storage bucket. */
export const SERVICE_KINDS = ['app', 'postgres', 'redis', 'bucket'] as const;
export type ServiceKind = (typeof SERVICE_KINDS)[number];
export const serviceKindSchema = { type: 'string', enum: SERVICE_KINDS } as const;

/** The engines `berth add --database` provisions. */
export const DATA_ENGINES = ['postgres', 'redis'] as const;

export const createDataServiceBodySchema = {
  type: 'object',
  required: ['engine', 'name'],
  additionalProperties: false,
  properties: {
    engine: { type: 'string', enum: DATA_ENGINES },
    name: { type: 'string', minLength: 1 },
  },
} as const;
export type CreateDataServiceBody = Static<typeof createDataServiceBodySchema>;

/** A data service's state: its engine's (running, starting, restarting, crashed…) or stopped. */
export const dataServiceStateSchema = string;

/** A data service in one environment; credentials are in its variables (`berth variables -s NAME`). */
export const dataServiceSchema = {
  type: 'object',
  required: [
    'service',
    'environment',
    'kind',
    'engine',
    'version',
    'state',
    'privateHost',
    'port',
    'username',
    'database',
    'publicPort',
    'publicHost',
    'settings',
    'pooledPort',
  ],
  additionalProperties: false,
  properties: {
    service: string,
    environment: string,
    kind: serviceKindSchema,
    engine: string,
    /** The engine's major version. */
    version: string,
    state: dataServiceStateSchema,
    /** `<service>.<env>.<project>.internal`, how other services reach it. */
    privateHost: string,
    port: { type: 'integer' },
    username: string,
    database: string,
    /** Its public TCP port; null when it is not public. */
    publicPort: nullableInteger,
    /** The server's public host name (DATABASE_PUBLIC_URL's host when public). */
    publicHost: string,
    settings: { type: 'object', additionalProperties: string },
    /** PgBouncer's port at the private host (DATABASE_URL_POOLED) when the pooler is on, else null. */
    pooledPort: nullableInteger,
    /** A sentence on what happened (a restart: how it was shut down). */
    message: nullableString,
  },
} as const;
export type DataServiceView = Static<typeof dataServiceSchema>;

export const dataLogQuerySchema = {
  type: 'object',
  properties: { lines: { type: 'integer', minimum: 0 }, follow: string },
} as const;
export type DataLogQuery = Static<typeof dataLogQuerySchema>;

/** The engine's output lines, as a deployment's runtime log lines (NDJSON). */
export const dataLogLineSchema = logLineSchema;

/** The Upgrade token of `…/connect`: after 101 the connection carries the database's own protocol. */
export const TUNNEL_UPGRADE = 'berth-tcp';

export const dataConfigBodySchema = {
  type: 'object',
  required: ['key', 'value'],
  additionalProperties: false,
  properties: { key: { type: 'string', minLength: 1 }, value: string },
} as const;
export type DataConfigBody = Static<typeof dataConfigBodySchema>;

/** What setting a value took: a reload, a restart (pg_settings' context postmaster), or nothing more (Redis's CONFIG SET). */
export const dataConfigResultSchema = {
  type: 'object',
  required: ['key', 'value', 'action', 'message'],
  additionalProperties: false,
  properties: {
    key: string,
    /** The value in effect now, as the engine shows it. */
    value: string,
    action: { type: 'string', enum: ['reload', 'restart', 'live'] },
    message: string,
  },
} as const;
export type DataConfigResult = Static<typeof dataConfigResultSchema>;

export const dataExtensionsSchema = {
  type: 'object',
  required: ['available', 'missing'],
  additionalProperties: false,
  properties: {
    available: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'defaultVersion', 'installedVersion', 'comment'],
        additionalProperties: false,
        properties: {
          name: string,
          defaultVersion: string,
          installedVersion: nullableString,
          comment: string,
        },
      },
    },
    /** Well-known extensions the server lacks, with the package and where it comes from. */
    missing: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'package', 'hint'],
        additionalProperties: false,
        properties: { name: string, package: string, hint: string },
      },
    },
  },
} as const;
export type DataExtensions = Static<typeof dataExtensionsSchema>;

export const dataPublicBodySchema = {
  type: 'object',
  required: ['on'],
  additionalProperties: false,
  properties: { on: { type: 'boolean' } },
} as const;
export type DataPublicBody = Static<typeof dataPublicBodySchema>;

export const dataPoolerBodySchema = dataPublicBodySchema;
export type DataPoolerBody = DataPublicBody;

/** `berth db branch NAME`: a copy of this database as a new database service in the same environment. */
export const dataBranchBodySchema = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1 },
    /** A past instant (RFC 3339) to branch from; needs point-in-time recovery. */
    at: string,
  },
} as const;
export type DataBranchBody = Static<typeof dataBranchBodySchema>;
