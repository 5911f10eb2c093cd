import { logLineSchema } from './deployments.js';
import { nullableInteger, nullableString, type Static, string } from './schema.js';

/** What a service is: an app built from source, or a data service's engine (next: redis, bucket). */
export const SERVICE_KINDS = ['app', 'postgres'] as const;
export type ServiceKind = (typeof SERVICE_KINDS)[number];
export const serviceKindSchema = { type: 'string', enum: SERVICE_KINDS } as const;

/** The engines `berth add --database` provisions. */
export const DATA_ENGINES = ['postgres'] as const;

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
    'settings',
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
    settings: { type: 'object', additionalProperties: string },
    /** A sentence on what happened (a restart: how it was shut down). */
    message: nullableString,
  },
} as const;
export type DataServiceView = Static<typeof dataServiceSchema>;

export const dataLogQuerySchema = {
  type: 'object',
  properties: { lines: { type: 'integer', minimum: 0 } },
} as const;
export type DataLogQuery = Static<typeof dataLogQuerySchema>;

/** The engine's output lines, as a deployment's runtime log lines (NDJSON). */
export const dataLogLineSchema = logLineSchema;

/** The Upgrade token of `…/connect`: after 101 the connection carries the database's own protocol. */
export const TUNNEL_UPGRADE = 'berth-tcp';
