import { integer, nullableString, number, orNull, type Static, string, timestamp } from './schema.js';

const count = integer;

/** A deployment's (or a service's) request counters at the edge. */
export const metricsSnapshotSchema = {
  type: 'object',
  required: ['requests', 'status', 'bytesIn', 'bytesOut', 'active', 'tunnels', 'latencyMs'],
  additionalProperties: false,
  properties: {
    /** HTTP requests answered (or abandoned by the client: status 499). Upgrades are counted in `tunnels`. */
    requests: count,
    status: {
      type: 'object',
      required: ['1xx', '2xx', '3xx', '4xx', '5xx'],
      additionalProperties: false,
      properties: { '1xx': count, '2xx': count, '3xx': count, '4xx': count, '5xx': count },
    },
    /** Request body bytes received from clients. */
    bytesIn: count,
    /** Response body bytes sent to clients. */
    bytesOut: count,
    /** Requests in flight plus open tunnels, now. */
    active: count,
    /** Upgraded (WebSocket) connections opened. */
    tunnels: count,
    latencyMs: {
      type: 'object',
      required: ['p50', 'p95', 'p99', 'max'],
      additionalProperties: false,
      properties: { p50: number, p95: number, p99: number, max: number },
    },
  },
} as const;
export type MetricsSnapshot = Static<typeof metricsSnapshotSchema>;

/** Edge-wide losses, so a reader knows the figures are low. */
export const edgeLossesSchema = {
  type: 'object',
  required: ['requests', 'accessLogLines'],
  additionalProperties: false,
  properties: {
    /** Requests the edge served but could not count. */
    requests: count,
    /** Access log lines not written (the disk did not keep up). */
    accessLogLines: count,
  },
} as const;
export type EdgeLosses = Static<typeof edgeLossesSchema>;

export const serviceMetricsSchema = {
  type: 'object',
  required: [
    'project',
    'environment',
    'service',
    'deploymentId',
    'since',
    'current',
    'totals',
    'deployments',
    'lost',
  ],
  additionalProperties: false,
  properties: {
    project: string,
    environment: string,
    service: string,
    /** The deployment serving now (null: none). */
    deploymentId: nullableString,
    /** When the edge started counting: counters live in the edge process. */
    since: timestamp,
    /** The active deployment's counters; null before it served anything or without one. */
    current: orNull(metricsSnapshotSchema),
    /** All of the service's deployments since the edge started. */
    totals: metricsSnapshotSchema,
    /** Deployments the edge still counts separately (routed now or finishing requests). */
    deployments: {
      type: 'array',
      items: {
        ...metricsSnapshotSchema,
        required: ['deploymentId', ...metricsSnapshotSchema.required],
        properties: { deploymentId: string, ...metricsSnapshotSchema.properties },
      },
    },
    lost: edgeLossesSchema,
  },
} as const;
export type ServiceMetrics = Static<typeof serviceMetricsSchema>;

export const environmentMetricsSchema = {
  type: 'object',
  required: ['project', 'environment', 'since', 'lost', 'services'],
  additionalProperties: false,
  properties: {
    project: string,
    environment: string,
    since: timestamp,
    lost: edgeLossesSchema,
    /** One per service of the project. */
    services: { type: 'array', items: serviceMetricsSchema },
  },
} as const;
export type EnvironmentMetrics = Static<typeof environmentMetricsSchema>;

/** One request through the edge, as its access log records it. */
export const accessLogEntrySchema = {
  type: 'object',
  required: [
    'time',
    'service',
    'deploymentId',
    'method',
    'host',
    'path',
    'status',
    'durationMs',
    'bytesIn',
    'bytesOut',
    'requestId',
    'ip',
  ],
  additionalProperties: false,
  properties: {
    time: timestamp,
    service: string,
    deploymentId: string,
    method: string,
    host: string,
    path: string,
    status: integer,
    durationMs: number,
    bytesIn: count,
    bytesOut: count,
    /** The X-Request-Id the app got (the client's own, or the edge's). */
    requestId: string,
    ip: string,
  },
} as const;
export type AccessLogEntry = Static<typeof accessLogEntrySchema>;
export const accessLogListSchema = { type: 'array', items: accessLogEntrySchema } as const;

export const httpLogsQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 5000, default: 100 },
    /** A status class like 5xx or a status code like 404. */
    status: string,
    /** A path prefix. */
    path: { type: 'string', maxLength: 2000 },
    method: { type: 'string', maxLength: 32 },
    requestId: { type: 'string', maxLength: 500 },
  },
} as const;
export type HttpLogsQuery = Static<typeof httpLogsQuerySchema>;
