import type { FastifyInstance } from 'fastify';
import { UserError } from '../../core/errors.js';
import type { Environment, Project, Service } from '../../core/model.js';
import { type HttpLogQuery, STATUS_FILTER } from '../../edge/access-log-search.js';
import { type EdgeMetrics, emptySnapshot, type ServiceNames, serviceLogKey } from '../../edge/metrics.js';
import type { Store } from '../../store/store.js';
import {
  type AccessLogEntry,
  accessLogListSchema,
  type EdgeLosses,
  type EnvironmentMetrics,
  environmentMetricsSchema,
  type HttpLogsQuery,
  httpLogsQuerySchema,
  type ServiceMetrics,
  serviceMetricsSchema,
} from '../contract/index.js';
import type { ApiDeps } from '../deps.js';
import { resolveScope, type ScopeParams, scopeParamsSchema } from '../lookup.js';

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
): ServiceMetrics {
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
          response: { 200: serviceMetricsSchema },
        },
      },
      async (req): Promise<ServiceMetrics> => {
        const { project, environment, service } = resolveScope(store, req.params);
        return serviceAnswer(store, await edge.metrics(), project, environment, service);
      },
    );

    app.get<{ Params: { project: string; env: string } }>(
      '/v1/projects/:project/environments/:env/metrics',
      {
        schema: {
          summary: 'Request metrics of every service of an environment',
          response: { 200: environmentMetricsSchema },
        },
      },
      async (req): Promise<EnvironmentMetrics> => {
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

    app.get<{ Params: ScopeParams; Querystring: HttpLogsQuery }>(
      `${base}/http-logs`,
      {
        schema: {
          summary: "A service's access log (one entry per request through the edge), newest first",
          params: scopeParamsSchema,
          querystring: httpLogsQuerySchema,
          response: { 200: accessLogListSchema },
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
