import {
  boolean,
  integer,
  nullableInteger,
  nullableString,
  type Static,
  string,
  stringList,
  timestamp,
} from './schema.js';

/** Railway's deployment status names. */
export const DEPLOYMENT_STATUSES = [
  'WAITING',
  'QUEUED',
  'BUILDING',
  'DEPLOYING',
  'SUCCESS',
  'FAILED',
  'CRASHED',
  'REMOVED',
  'SKIPPED',
] as const;
export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];

/** Statuses a deployment never leaves: followers stop there. */
export const TERMINAL_STATUSES: ReadonlySet<DeploymentStatus> = new Set([
  'SUCCESS',
  'FAILED',
  'CRASHED',
  'REMOVED',
  'SKIPPED',
]);

export const deploymentStatusSchema = { type: 'string', enum: DEPLOYMENT_STATUSES } as const;
/** A status that may not exist yet (a service never deployed). */
export const nullableStatusSchema = {
  type: ['string', 'null'],
  enum: [...DEPLOYMENT_STATUSES, null],
} as const;
const deploymentKind = { type: 'string', enum: ['up', 'redeploy', 'rollback', 'restart'] } as const;

export const deploymentSummarySchema = {
  type: 'object',
  required: [
    'id',
    'status',
    'createdAt',
    'reason',
    'kind',
    'message',
    'gitSha',
    'gitBranch',
    'gitAuthor',
    'gitMessage',
  ],
  additionalProperties: false,
  properties: {
    id: string,
    status: deploymentStatusSchema,
    createdAt: timestamp,
    reason: nullableString,
    kind: deploymentKind,
    message: nullableString,
    /** The commit of a git deployment (or of the one it redeploys); null for uploads. */
    gitSha: nullableString,
    gitBranch: nullableString,
    gitAuthor: nullableString,
    gitMessage: nullableString,
  },
} as const;
export type DeploymentSummary = Static<typeof deploymentSummarySchema>;
export const deploymentListSchema = { type: 'array', items: deploymentSummarySchema } as const;

export const replicaInfoSchema = {
  type: 'object',
  required: ['id', 'replica', 'state', 'port', 'pid', 'restarts'],
  additionalProperties: false,
  properties: {
    id: string,
    replica: integer,
    state: string,
    port: nullableInteger,
    pid: nullableInteger,
    restarts: integer,
  },
} as const;
export type ReplicaInfo = Static<typeof replicaInfoSchema>;

export const deploymentDetailSchema = {
  type: 'object',
  required: [
    'id',
    'status',
    'reason',
    'createdAt',
    'updatedAt',
    'kind',
    'message',
    'sourceDeploymentId',
    'service',
    'environment',
    'project',
    'active',
    'config',
    'configOrigins',
    'configWarnings',
    'url',
    'replicas',
  ],
  additionalProperties: false,
  properties: {
    id: string,
    status: deploymentStatusSchema,
    reason: nullableString,
    createdAt: timestamp,
    updatedAt: timestamp,
    kind: deploymentKind,
    message: nullableString,
    sourceDeploymentId: nullableString,
    service: string,
    environment: string,
    project: string,
    active: boolean,
    /** The effective build and deploy settings (railway.toml's shape); null before they are known. */
    config: { type: ['object', 'null'], additionalProperties: true },
    /** Per setting ("deploy.numReplicas"): where its value came from. */
    configOrigins: {
      type: ['object', 'null'],
      additionalProperties: {
        type: 'object',
        required: ['source'],
        properties: {
          source: { type: 'string', enum: ['file', 'override', 'variable', 'service settings', 'default'] },
          file: string,
          environment: string,
          variable: string,
        },
      },
    },
    configWarnings: stringList,
    url: nullableString,
    replicas: { type: 'array', items: replicaInfoSchema },
  },
} as const;
export type DeploymentDetail = Static<typeof deploymentDetailSchema>;

/** What `up` answers: the queued deployment and the URL it will serve at. */
export const upResultSchema = {
  type: 'object',
  required: ['deploymentId', 'status', 'url'],
  additionalProperties: false,
  properties: { deploymentId: string, status: deploymentStatusSchema, url: nullableString },
} as const;
export type UpResult = Static<typeof upResultSchema>;

/** What rollback, redeploy and restart answer. */
export const startedDeploymentSchema = {
  type: 'object',
  required: ['deploymentId', 'status'],
  additionalProperties: false,
  properties: { deploymentId: string, status: deploymentStatusSchema },
} as const;
export type StartedDeployment = Static<typeof startedDeploymentSchema>;

export const cancelledDeploymentSchema = {
  type: 'object',
  required: ['id', 'status'],
  additionalProperties: false,
  properties: { id: string, status: deploymentStatusSchema },
} as const;
export type CancelledDeployment = Static<typeof cancelledDeploymentSchema>;

/** Rollback's body (no schema on the route: an absent body means the previous successful deployment). */
export interface RollbackBody {
  deploymentId?: string;
}

export const deploymentListQuerySchema = {
  type: 'object',
  properties: { limit: { type: 'integer', minimum: 1, maximum: 1000 } },
} as const;

export const logQuerySchema = {
  type: 'object',
  properties: {
    build: string,
    deploy: string,
    lines: { type: 'integer', minimum: 0 },
    follow: string,
    until: { type: 'string', enum: ['terminal'] },
  },
} as const;
export type LogQuerystring = Static<typeof logQuerySchema>;

/** One line of a deployment's NDJSON log: a log line or a status change. */
export const logLineSchema = {
  type: 'object',
  required: ['type', 'time', 'stream', 'message'],
  additionalProperties: false,
  properties: {
    type: { const: 'log' },
    time: timestamp,
    phase: { type: 'string', enum: ['build', 'deploy'] },
    stream: { type: 'string', enum: ['build', 'stdout', 'stderr', 'system'] },
    level: { type: 'string', enum: ['debug', 'info', 'warn', 'error'] },
    message: string,
    replica: integer,
    attributes: { type: 'object', additionalProperties: true },
  },
} as const;
export type LogLine = Static<typeof logLineSchema>;

export const statusEventSchema = {
  type: 'object',
  required: ['type', 'time', 'status', 'reason'],
  additionalProperties: false,
  properties: {
    type: { const: 'status' },
    time: timestamp,
    status: deploymentStatusSchema,
    reason: nullableString,
  },
} as const;
export type StatusEvent = Static<typeof statusEventSchema>;

export const logEventSchema = { anyOf: [logLineSchema, statusEventSchema] } as const;
export type LogEvent = Static<typeof logEventSchema>;
