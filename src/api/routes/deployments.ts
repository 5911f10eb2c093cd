import type { FastifyInstance } from 'fastify';
import { TERMINAL_STATUSES } from '../../core/model.js';
import type { LogEntry } from '../../deploy/deployment-log.js';
import type { ApiDeps } from '../server.js';

interface LogQuery {
  build?: string;
  deploy?: string;
  lines?: number;
  follow?: string;
  until?: string;
}

/** One deployment: details, logs (NDJSON, optionally followed live) and cancel. */
export function deploymentRoutes(deps: ApiDeps) {
  const { store, engine, logs } = deps;
  return async (app: FastifyInstance) => {
    app.get<{ Params: { id: string } }>(
      '/v1/deployments/:id',
      { schema: { summary: 'Show a deployment' } },
      async (req) => {
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
          replicas: store.instances.of(d.id).map((i) => ({
            id: i.id,
            replica: i.replica,
            state: i.state,
            port: i.port,
            pid: i.pid,
            restarts: i.restarts,
          })),
        };
      },
    );

    app.post<{ Params: { id: string } }>(
      '/v1/deployments/:id/cancel',
      { schema: { summary: 'Cancel a queued or running deployment' } },
      async (req) => {
        const d = engine.cancel(req.params.id);
        return { id: d.id, status: d.status };
      },
    );

    app.get<{ Params: { id: string }; Querystring: LogQuery }>(
      '/v1/deployments/:id/logs',
      {
        schema: {
          summary: 'Build and deploy logs as NDJSON; follow=1 streams live',
          querystring: {
            type: 'object',
            properties: {
              build: { type: 'string' },
              deploy: { type: 'string' },
              lines: { type: 'integer', minimum: 0 },
              follow: { type: 'string' },
              until: { type: 'string', enum: ['terminal'] },
            },
          },
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
