import fs from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Environment, Project, Service } from '../../core/model.js';
import { branchDatabase } from '../../data/branches.js';
import { listExtensions, setConfig, setPublic } from '../../data/db-admin.js';
import { engineOf } from '../../data/engines.js';
import { POOLER_PORT, preparedStatementsHint } from '../../data/postgres/pgbouncer.js';
import { privateDomain } from '../../deploy/private-network.js';
import { LogTail } from '../../runtime/log-tail.js';
import type { DataService } from '../../store/data-services.js';
import {
  type CreateDataServiceBody,
  createDataServiceBodySchema,
  type DataBranchBody,
  type DataConfigBody,
  type DataConfigResult,
  type DataExtensions,
  type DataLogQuery,
  type DataPoolerBody,
  type DataPublicBody,
  type DataServiceView,
  dataBranchBodySchema,
  dataConfigBodySchema,
  dataConfigResultSchema,
  dataExtensionsSchema,
  dataLogLineSchema,
  dataLogQuerySchema,
  dataPoolerBodySchema,
  dataPublicBodySchema,
  dataServiceSchema,
} from '../contract/index.js';
import type { ApiDeps } from '../deps.js';
import { resolveScope, type ScopeParams, scopeParamsSchema } from '../lookup.js';

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** PostgreSQL's log line prefix (`2026-12-06 22:36:33.029 UTC [19814] …`): its time becomes the line's. */
const PG_TIME = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?) UTC /;

/** Redis's (`24141:M 06 Dec 2026 23:49:44.291 * …`, in UTC: the engine runs with TZ=UTC). */
const REDIS_TIME = /^\d+:[A-Z] (\d\d \w{3} \d{4} \d\d:\d\d:\d\d)(\.\d+)? /;

function lineTime(line: string, fallback: string): string {
  const pgTime = PG_TIME.exec(line);
  const redisTime = REDIS_TIME.exec(line);
  const t = pgTime
    ? Date.parse(`${pgTime[1]}T${pgTime[2]}Z`)
    : redisTime
      ? Date.parse(`${redisTime[1]} UTC`) + Math.round(Number(redisTime[2] ?? 0) * 1000)
      : Number.NaN;
  return Number.isNaN(t) ? fallback : new Date(t).toISOString();
}

/** A data service as the API answers it (also the answer of a point-in-time restore, routes/pitr.ts). */
export function dataServiceView(
  deps: Pick<ApiDeps, 'engine'>,
  o: {
    project: Project;
    environment: Environment;
    service: Service;
    ds: DataService;
    message: string | null;
  },
): DataServiceView {
  const { engine } = deps;
  const { project, environment, service, ds } = o;
  const c = engine.data.connection(ds);
  return {
    service: service.name,
    environment: environment.name,
    kind: service.kind,
    engine: ds.engine,
    version: ds.version,
    state: engine.data.state(ds),
    privateHost: privateDomain({
      service: service.name,
      environment: environment.name,
      project: project.name,
    }),
    port: c.port,
    username: ds.username,
    database: ds.database,
    publicPort: ds.publicPort,
    publicHost: engine.data.publicHost,
    settings: ds.settings,
    pooledPort: ds.pooler ? POOLER_PORT : null,
    message: o.message,
  };
}

/** Data services: `berth add --database`, their state, logs and restart. */
export function dataServiceRoutes(deps: ApiDeps) {
  const { store, engine } = deps;
  const base = '/v1/projects/:project/environments/:env/services/:service';

  const view = (
    project: Project,
    environment: Environment,
    service: Service,
    ds: DataService,
    message: string | null = null,
  ): DataServiceView => dataServiceView(deps, { project, environment, service, ds, message });

  return async (app: FastifyInstance) => {
    app.post<{ Params: { project: string; env: string }; Body: CreateDataServiceBody }>(
      '/v1/projects/:project/environments/:env/data-services',
      {
        schema: {
          summary:
            'Add a data service (PostgreSQL, Redis) to the environment: its volume, its engine supervised; answers once it accepts connections',
          body: createDataServiceBodySchema,
          response: { 201: dataServiceSchema },
        },
      },
      async (req, reply) => {
        const project = store.projects.get(req.params.project);
        const environment = store.environments.get(project, req.params.env);
        const { service, dataService } = await engine.data.add(
          project,
          environment,
          req.body.name,
          req.body.engine,
        );
        deps.backups.sync();
        deps.pitr.sync();
        return reply.code(201).send(view(project, environment, service, dataService));
      },
    );

    app.get<{ Params: ScopeParams }>(
      `${base}/data`,
      {
        schema: {
          summary: 'A data service in this environment: engine, state, where it listens',
          params: scopeParamsSchema,
          response: { 200: dataServiceSchema },
        },
      },
      async (req): Promise<DataServiceView> => {
        const { project, environment, service } = resolveScope(store, req.params);
        return view(project, environment, service, engine.data.get(service, environment));
      },
    );

    app.post<{ Params: ScopeParams }>(
      `${base}/data/restart`,
      {
        schema: {
          summary:
            'Restart a data service: its graceful stop (data kept), then start; answers once it accepts connections',
          params: scopeParamsSchema,
          response: { 200: dataServiceSchema },
        },
      },
      async (req): Promise<DataServiceView> => {
        const { project, environment, service } = resolveScope(store, req.params);
        const ds = engine.data.get(service, environment);
        await engine.data.restart(ds);
        return view(project, environment, service, ds, engineOf(ds.engine).restartMessage(service.name));
      },
    );

    app.post<{ Params: ScopeParams; Body: DataConfigBody }>(
      `${base}/data/config`,
      {
        schema: {
          summary:
            'Change a setting (PostgreSQL: ALTER SYSTEM, then reload or restart as pg_settings says; Redis: CONFIG SET + CONFIG REWRITE); the answer says which',
          params: scopeParamsSchema,
          body: dataConfigBodySchema,
          response: { 200: dataConfigResultSchema },
        },
      },
      async (req): Promise<DataConfigResult> => {
        const { environment, service } = resolveScope(store, req.params);
        const ds = engine.data.get(service, environment);
        return setConfig(store, engine.data, ds, req.body.key, req.body.value);
      },
    );

    app.get<{ Params: ScopeParams }>(
      `${base}/data/extensions`,
      {
        schema: {
          summary: 'Extensions the database can create (and has), and well-known ones the server lacks',
          params: scopeParamsSchema,
          response: { 200: dataExtensionsSchema },
        },
      },
      async (req): Promise<DataExtensions> => {
        const { environment, service } = resolveScope(store, req.params);
        return listExtensions(engine.data, engine.data.get(service, environment));
      },
    );

    app.post<{ Params: ScopeParams; Body: DataPublicBody }>(
      `${base}/data/public`,
      {
        schema: {
          summary:
            "Make the database reachable on the server's public host at a port of its own (DATABASE_PUBLIC_URL), or not",
          params: scopeParamsSchema,
          body: dataPublicBodySchema,
          response: { 200: dataServiceSchema },
        },
      },
      async (req): Promise<DataServiceView> => {
        const { project, environment, service } = resolveScope(store, req.params);
        const ds = await setPublic(store, engine.data, engine.data.get(service, environment), req.body.on);
        return view(project, environment, service, ds);
      },
    );

    app.post<{ Params: ScopeParams; Body: DataPoolerBody }>(
      `${base}/data/pooler`,
      {
        schema: {
          summary:
            'Put PgBouncer (transaction mode) in front of the database at its private host, port 6432 (DATABASE_URL_POOLED), or take it away',
          params: scopeParamsSchema,
          body: dataPoolerBodySchema,
          response: { 200: dataServiceSchema },
        },
      },
      async (req): Promise<DataServiceView> => {
        const { project, environment, service } = resolveScope(store, req.params);
        const ds = engine.data.get(service, environment);
        let message: string;
        if (req.body.on) {
          const bouncer = await engine.data.poolers.enable(ds);
          const hint = preparedStatementsHint(bouncer.version);
          message = `PgBouncer runs in front of ${service.name} in transaction mode; apps reach it with \${{${service.name}.DATABASE_URL_POOLED}} (redeploy them to pick it up).${hint ? ` ${hint}` : ''}`;
        } else {
          await engine.data.poolers.disable(ds);
          message = `${service.name} has no pooler now; DATABASE_URL_POOLED is gone, so redeploy the services that use it.`;
        }
        const now = store.dataServices.getById(ds.id);
        return view(project, environment, service, now, message);
      },
    );

    app.post<{ Params: ScopeParams; Body: DataBranchBody }>(
      `${base}/data/branches`,
      {
        schema: {
          summary:
            'Branch the database: a physical copy of it, as it is now, as a new database service in the same environment with credentials of its own; the source keeps running untouched',
          params: scopeParamsSchema,
          body: dataBranchBodySchema,
          response: { 201: dataServiceSchema },
        },
      },
      async (req, reply) => {
        const { project, environment, service } = resolveScope(store, req.params);
        const source = engine.data.get(service, environment);
        // A past state: a point-in-time restore of the source's archive, then a password of its own.
        const made =
          req.body.at !== undefined
            ? await deps.pitr.restore(project, environment, source, req.body.at, req.body.name, {
                ownPassword: true,
              })
            : await branchDatabase(store, engine.data, { project, environment, name: req.body.name, source });
        const how =
          req.body.at !== undefined
            ? ` as of ${req.body.at} into ${made.service.name} in ${made.seconds.toFixed(2)}s (recovered from its WAL archive), with its own credentials`
            : ` into ${made.service.name} in ${made.seconds.toFixed(2)}s: a copy of its data as of now, with its own credentials`;
        // The branch is a database like any other: its scheduled backups and base backups start now.
        deps.backups.sync();
        deps.pitr.sync();
        return reply
          .code(201)
          .send(
            view(
              project,
              environment,
              made.service,
              made.dataService,
              `Branched ${service.name}${how} (\`berth variables -s ${made.service.name}\`); ${service.name} is untouched.`,
            ),
          );
      },
    );

    app.get<{ Params: ScopeParams; Querystring: DataLogQuery }>(
      `${base}/data/logs`,
      {
        schema: {
          summary: "The engine's last output lines as NDJSON; follow=1 streams new ones as they come",
          params: scopeParamsSchema,
          querystring: dataLogQuerySchema,
          response: { 200: { content: { 'application/x-ndjson': { schema: dataLogLineSchema } } } },
        },
      },
      async (req, reply) => {
        const { environment, service } = resolveScope(store, req.params);
        const ds = engine.data.get(service, environment);
        const line = (message: string, stream: 'stdout' | 'stderr' = 'stderr') =>
          `${JSON.stringify({ type: 'log', time: lineTime(message, new Date().toISOString()), stream, message })}\n`;
        // The past lines and the files' current ends are read in one tick: following misses and repeats nothing.
        const past = engine.data.logLines(ds, req.query.lines ?? 200);
        const files = engine.data.logFiles(ds);
        const from = files ? { stdout: sizeOf(files.stdout), stderr: sizeOf(files.stderr) } : null;
        if (req.query.follow !== '1' || !files || !from) {
          reply.header('content-type', 'application/x-ndjson').header('cache-control', 'no-store');
          return past.map((m) => line(m)).join('');
        }
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
        for (const m of past) res.write(line(m));
        const tails = (['stdout', 'stderr'] as const).map(
          (stream) => new LogTail(files[stream], from[stream], (m) => res.write(line(m, stream))),
        );
        const keepAlive = setInterval(() => res.write('\n'), 15_000);
        res.on('close', () => {
          clearInterval(keepAlive);
          for (const t of tails) t.close();
        });
      },
    );
  };
}
