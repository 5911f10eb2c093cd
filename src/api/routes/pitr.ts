import type { FastifyInstance } from 'fastify';
import { UserError } from '../../core/errors.js';
import type { BaseBackupRecord } from '../../core/pitr-model.js';
import type { DataService } from '../../store/data-services.js';
import {
  type BaseBackupView,
  dataServiceSchema,
  type PitrRestoreBody,
  type PitrSettingsBody,
  type PitrWindow,
  pitrRestoreBodySchema,
  pitrSettingsBodySchema,
  pitrWindowSchema,
} from '../contract/index.js';
import type { ApiDeps } from '../deps.js';
import { resolveScope, type ScopeParams, scopeParamsSchema } from '../lookup.js';
import { dataServiceView } from './data-services.js';

function baseView(b: BaseBackupRecord): BaseBackupView {
  return {
    id: b.id,
    status: b.status,
    createdAt: b.createdAt,
    finishedAt: b.finishedAt,
    sizeBytes: b.sizeBytes,
    error: b.error,
  };
}

/** Point-in-time restore only exists for PostgreSQL (its WAL archive). */
function requirePostgresService(ds: DataService): void {
  if (ds.engine !== 'postgres') {
    throw new UserError(
      `Point-in-time restore needs PostgreSQL's WAL archive; this is a ${ds.engine} service.`,
      { status: 409, code: 'conflict' },
    );
  }
}

/** `berth db restore`: the window, its settings, and a restore into a new service (src/data/pitr.ts). */
export function pitrRoutes(deps: ApiDeps) {
  const { store, engine, pitr } = deps;
  const base = '/v1/projects/:project/environments/:env/services/:service/data/pitr';

  const windowView = (serviceName: string, ds: DataService): PitrWindow => {
    const s = pitr.status(ds);
    return {
      service: serviceName,
      earliest: s.window.earliest,
      latest: s.window.latest,
      ranges: s.ranges,
      windowDays: s.windowDays,
      tailSeconds: s.tailSeconds,
      baseBackupCron: s.baseCron,
      nextBaseBackupAt: s.nextBaseBackupAt,
      waitingWalFiles: s.waitingWalFiles,
      shippingError: s.shippingError,
      lastShippedAt: s.lastShippedAt,
      lastBaseBackup: s.lastBaseBackup ? baseView(s.lastBaseBackup) : null,
      baseBackupRunning: s.baseBackupRunning,
    };
  };

  return async (app: FastifyInstance) => {
    app.get<{ Params: ScopeParams }>(
      base,
      {
        schema: {
          summary:
            'The earliest and latest instants the database can be restored to, its WAL shipping and its last base backup',
          params: scopeParamsSchema,
          response: { 200: pitrWindowSchema },
        },
      },
      async (req) => {
        const { environment, service } = resolveScope(store, req.params);
        const ds = engine.data.get(service, environment);
        requirePostgresService(ds);
        return windowView(service.name, ds);
      },
    );

    app.put<{ Params: ScopeParams; Body: PitrSettingsBody }>(
      base,
      {
        schema: {
          summary: 'How many days back restores reach, and when base backups run (cron, UTC)',
          params: scopeParamsSchema,
          body: pitrSettingsBodySchema,
          response: { 200: pitrWindowSchema },
        },
      },
      async (req) => {
        const { environment, service } = resolveScope(store, req.params);
        const ds = engine.data.get(service, environment);
        requirePostgresService(ds);
        pitr.configure(ds, {
          windowDays: req.body.windowDays,
          baseCron: req.body.baseBackupCron,
          tailSeconds: req.body.tailSeconds,
        });
        return windowView(service.name, ds);
      },
    );

    app.post<{ Params: ScopeParams; Body: PitrRestoreBody }>(
      `${base}/restores`,
      {
        schema: {
          summary:
            'A new database service recovered from the archive to an instant and promoted; the source keeps running, untouched',
          params: scopeParamsSchema,
          body: pitrRestoreBodySchema,
          response: { 201: dataServiceSchema },
        },
      },
      async (req, reply) => {
        const { project, environment, service } = resolveScope(store, req.params);
        const source = engine.data.get(service, environment);
        requirePostgresService(source);
        const r = await pitr.restore(project, environment, source, req.body.time, req.body.name);
        deps.backups.sync();
        const how = r.stoppedAt
          ? `recovered to ${r.stoppedAt}`
          : `recovered through the last transaction before ${req.body.time}`;
        return reply.code(201).send(
          dataServiceView(deps, {
            project,
            environment,
            service: r.service,
            ds: r.dataService,
            message: `Restored ${service.name} as of ${req.body.time} into ${r.service.name} in ${r.seconds.toFixed(2)}s (${how}, then promoted); it has the data's roles and passwords and its own variables (\`berth variables -s ${r.service.name}\`); ${service.name} is untouched.`,
          }),
        );
      },
    );
  };
}
