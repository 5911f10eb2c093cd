import type { FastifyInstance } from 'fastify';
import type { LogEntry } from '../../deploy/deployment-log.js';
import {
  type CancelledDeployment,
  cancelledDeploymentSchema,
  type DeploymentDetail,
  deploymentDetailSchema,
  type LogQuerystring,
  logEventSchema,
  logQuerySchema,
  TERMINAL_STATUSES,
} from '../contract/index.js';
import type { ApiDeps } from '../deps.js';

/** One deployment: details, logs (NDJSON, optionally followed live) and cancel. */
export function deploymentRoutes(deps: ApiDeps) {
  const { store, engine, logs } = deps;
  return async (app: FastifyInstance) => {
    app.get<{ Params: { id: string } }>(
      '/v1/deployments/:id',
      { schema: { summary: 'Show a deployment', response: { 200: deploymentDetailSchema } } },
      async (req): Promise<DeploymentDetail> => {
        const d = store.deployments.get(req.params.id);
        const service = store.services.getById(d.serviceId);
        const environment = store.environments.getById(d.environmentId);
        const project = store.projects.getById(service.projectId);
        return {
          id: d.id,
          status: d.status,
          reason: d.reason,
          createdAt: d.createdAt,
          updatedAt: d.updatedAt,
          kind: d.kind,
          message: d.message,
          sourceDeploymentId: d.sourceDeploymentId,
          service: service.name,
          environment: environment.name,
          project: project.name,
          active: store.deployments.findActiveId(d.serviceId, d.environmentId) === d.id,
          config: d.config,
          configOrigins: d.configOrigins,
          configWarnings: d.configWarnings,
          url: engine.urlOf(d),
          replicas: store.workloads.ofDeployment(d.id).map((w) => ({
            id: w.id,
            replica: w.slot,
            state: w.state,
            port: w.ports.http ?? 0,
            pid: pidOf(w.handle),
            restarts: w.restarts,
          })),
        };
      },
    );

    app.post<{ Params: { id: string } }>(
      '/v1/deployments/:id/cancel',
      {
        schema: {
          summary: 'Cancel a queued or running deployment',
          response: { 200: cancelledDeploymentSchema },
        },
      },
      async (req): Promise<CancelledDeployment> => {
        const d = engine.cancel(req.params.id);
        return { id: d.id, status: d.status };
      },
    );

    app.get<{ Params: { id: string }; Querystring: LogQuerystring }>(
      '/v1/deployments/:id/logs',
      {
        schema: {
          summary: 'Build and deploy logs as NDJSON; follow=1 streams live',
          querystring: logQuerySchema,
          // One event per line; the answer is streamed, never serialized from a value.
          response: { 200: { content: { 'application/x-ndjson': { schema: logEventSchema } } } },
        },
      },
      async (req, reply) => {
        const d = store.deployments.get(req.params.id);
        const q = req.query;
        const wantBuild = q.deploy !== '1';
        const wantDeploy = q.build !== '1';
        const keep = (e: LogEntry) => e.type === 'status' || (e.phase === 'build' ? wantBuild : wantDeploy);
        const follow = q.follow === '1';
        const untilTerminal = q.until === 'terminal';

        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
        const write = (e: LogEntry) => res.write(`${JSON.stringify(e)}\n`);

        // Reading the file (synchronously, backwards from its end) and subscribing happen in one tick: no
        // line is missed or repeated. Followers also get past status changes, in order with the lines around them.
        const past = logs.tailLines(d.id, q.lines ?? 200, (e) => (follow || e.type === 'log') && keep(e));
        for (const raw of past) res.write(`${raw}\n`);
        if (!follow) {
          res.end();
          return;
        }
        const current = store.deployments.get(d.id);
        if (untilTerminal && TERMINAL_STATUSES.has(current.status)) {
          write({ type: 'status', time: current.updatedAt, status: current.status, reason: current.reason });
          res.end();
          return;
        }
        const unsubscribe = logs.subscribe(d.id, (e) => {
          if (!keep(e)) return;
          write(e);
          if (untilTerminal && e.type === 'status' && TERMINAL_STATUSES.has(e.status)) {
            unsubscribe();
            res.end();
          }
        });
        const keepAlive = setInterval(() => res.write('\n'), 15_000);
        res.on('close', () => {
          clearInterval(keepAlive);
          unsubscribe();
        });
      },
    );
  };
}

/** The pid a ProcessDriver handle names (shown to users); null for another driver's handle or none. */
function pidOf(handle: unknown): number | null {
  const pid = (handle as { pid?: unknown } | null)?.pid;
  return typeof pid === 'number' ? pid : null;
}
