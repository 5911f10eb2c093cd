import type { FastifyInstance } from 'fastify';
import { UserError } from '../../core/errors.js';
import type { Environment, Project, Service } from '../../core/model.js';
import type { AccessLogEntry } from '../../edge/access-log.js';
import { type HttpLogQuery, STATUS_FILTER } from '../../edge/access-log-search.js';
import {
  type EdgeMetrics,
  emptySnapshot,
  type MetricsSnapshot,
  type ServiceNames,
  serviceLogKey,
} from '../../edge/metrics.js';
import type { Store } from '../../store/store.js';
import { resolveScope, type ScopeParams, scopeParamsSchema } from '../lookup.js';
import type { ApiDeps } from '../server.js';

export interface ServiceMetricsAnswer {
  project: string;
  environment: string;
  service: string;
  /** The deployment serving now (null: none). */
  deploymentId: string | null;
  /** When the edge started counting: counters live in the edge process. */
  since: string;
  /** The active deployment's counters; null before it served anything or without one. */
  current: MetricsSnapshot | null;
  /** All of the service's deployments since the edge started. */
  totals: MetricsSnapshot;
  /** Deployments the edge still counts separately (routed now or finishing requests). */
  deployments: Array<{ deploymentId: string } & MetricsSnapshot>;
  /** Edge-wide losses, so a reader knows the figures are low (see EdgeMetrics). */
  lost: EdgeLosses;
}

export interface EdgeLosses {
  /** Requests the edge served but could not count. */
  requests: number;
  /** Access log lines not written (the disk did not keep up). */
  accessLogLines: number;
}

function lossesOf(m: EdgeMetrics): EdgeLosses {
  return { requests: m.requestsNotCounted, accessLogLines: m.accessLogDropped };
}

function namesOf(project: Project, environment: Environment, service: Service): ServiceNames {
  return {
    project: project.name,
    environment: environment.name,
    service: service.name,
    serviceId: service.id,
    environmentId: environment.id,
  };
}

function serviceAnswer(
  store: Store,
  m: EdgeMetrics,
  project: Project,
  environment: Environment,
  service: Service,
): ServiceMetricsAnswer {
  const s = m.services[serviceLogKey(namesOf(project, environment, service))];
  const active = store.deployments.findActiveId(service.id, environment.id);
  return {
    project: project.name,
    environment: environment.name,
    service: service.name,
    deploymentId: active,
    since: m.since,
    current: (active !== null ? s?.deployments[active] : undefined) ?? null,
    totals: s?.totals ?? emptySnapshot(),
    deployments: Object.entries(s?.deployments ?? {}).map(([deploymentId, snap]) => ({
      deploymentId,
      ...snap,
    })),
    lost: lossesOf(m),
  };
}

interface HttpLogsQuerystring {
  limit?: number;
  status?: string;
  path?: string;
  method?: string;
  requestId?: string;
}

/** Request metrics and access logs, read from whichever edge driver runs. */
export function metricsRoutes(deps: ApiDeps) {
  const { store, edge } = deps;
  const base = '/v1/projects/:project/environments/:env/services/:service';
  return async (app: FastifyInstance) => {
    app.get<{ Params: ScopeParams }>(
      `${base}/metrics`,
      {
        schema: {
          summary: "A service's request metrics: its active deployment and totals since the edge started",
          params: scopeParamsSchema,
        },
      },
      async (req) => {
        const { project, environment, service } = resolveScope(store, req.params);
        return serviceAnswer(store, await edge.metrics(), project, environment, service);
      },
    );

    app.get<{ Params: { project: string; env: string } }>(
      '/v1/projects/:project/environments/:env/metrics',
      { schema: { summary: 'Request metrics of every service of an environment' } },
      async (req) => {
        const project = store.projects.get(req.params.project);
        const environment = store.environments.get(project, req.params.env);
        const m = await edge.metrics();
        return {
          project: project.name,
          environment: environment.name,
          since: m.since,
          lost: lossesOf(m),
          services: store.services
            .list(project.id)
            .map((service) => serviceAnswer(store, m, project, environment, service)),
        };
      },
    );

    app.get<{ Params: ScopeParams; Querystring: HttpLogsQuerystring }>(
      `${base}/http-logs`,
      {
        schema: {
          summary: "A service's access log (one entry per request through the edge), newest first",
          params: scopeParamsSchema,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              limit: { type: 'integer', minimum: 1, maximum: 5000, default: 100 },
              status: { type: 'string' },
              path: { type: 'string', maxLength: 2000 },
              method: { type: 'string', maxLength: 32 },
              requestId: { type: 'string', maxLength: 500 },
            },
          },
        },
      },
      async (req): Promise<AccessLogEntry[]> => {
        const { project, environment, service } = resolveScope(store, req.params);
        const q = req.query;
        if (q.status !== undefined && !STATUS_FILTER.test(q.status)) {
          throw new UserError(
            `status "${q.status}" is neither a status class like 5xx nor a status code like 404; use one of those.`,
          );
        }
        const query: HttpLogQuery = { limit: q.limit ?? 100 };
        if (q.status !== undefined) query.status = q.status;
        if (q.path !== undefined) query.pathPrefix = q.path;
        if (q.method !== undefined) query.method = q.method.toUpperCase();
        if (q.requestId !== undefined) query.requestId = q.requestId;
        return edge.httpLogs(namesOf(project, environment, service), query);
      },
    );
  };
}
