import type { FastifyInstance } from 'fastify';
import type { BackupStatusSummary } from '../../backup/scheduler.js';
import type { BackupRecord } from '../../core/backup-model.js';
import { UserError } from '../../core/errors.js';
import type { Store } from '../../store/store.js';
import {
  type BackupList,
  type BackupScheduleBody,
  type BackupStatus,
  type BackupView,
  backupListSchema,
  backupScheduleBodySchema,
  backupSchema,
  backupStatusSchema,
  type RestoreBackupBody,
  type RestoredBackup,
  restoreBackupBodySchema,
  restoredBackupSchema,
} from '../contract/index.js';
import type { ApiDeps } from '../deps.js';
import { resolveScope, type ScopeParams, scopeParamsSchema } from '../lookup.js';

export function backupView(store: Store, b: BackupRecord): BackupView {
  const service = store.services.findById(b.serviceId);
  const deleted = service ? null : store.backups.findDeleted(b);
  return {
    ...(deleted
      ? {
          deletedName: deleted.name,
          prunedAfter: new Date(Date.parse(deleted.deletedAt) + deleted.keepDays * 86_400_000).toISOString(),
        }
      : {}),
    id: b.id,
    createdAt: b.createdAt,
    sizeBytes: b.sizeBytes,
    verified: b.verified,
    status: b.status,
    error: b.error,
    service: service?.name ?? null,
    serviceId: b.serviceId,
  };
}

export function backupStatusView(store: Store, s: BackupStatusSummary): BackupStatus {
  return {
    cron: s.schedule.cron,
    keepDays: s.schedule.keepDays,
    nextRunAt: s.nextRunAt,
    running: s.running,
    last: s.last ? backupView(store, s.last) : null,
  };
}

/** `berth backup list|create|restore|schedule`: a database's backups (src/data/backups.ts). */
export function backupRoutes(deps: ApiDeps) {
  const { store, engine, backups } = deps;
  const base = '/v1/projects/:project/environments/:env/services/:service/backups';
  const envBase = '/v1/projects/:project/environments/:env/backups';

  return async (app: FastifyInstance) => {
    app.get<{ Params: ScopeParams }>(
      base,
      {
        schema: {
          summary: "A database's backups, newest first: verified, or failed with the reason",
          params: scopeParamsSchema,
          response: { 200: backupListSchema },
        },
      },
      async (req): Promise<BackupList> => {
        // A database deleted under this name (and none made since): its backups, kept for its keep window.
        const project = store.projects.find(req.params.project);
        const env = project ? store.environments.find(project, req.params.env) : null;
        const gone =
          project && env && !store.services.find(project, req.params.service)
            ? backups.listDeleted(env, req.params.service)
            : null;
        if (gone) return gone.backups.map((b) => backupView(store, b));
        const { environment, service } = resolveScope(store, req.params);
        return backups.list(engine.data.get(service, environment)).map((b) => backupView(store, b));
      },
    );

    app.post<{ Params: ScopeParams }>(
      base,
      {
        schema: {
          summary:
            'Back the database up now (pg_dump -Fc or a Redis RDB snapshot, read back and checked); answers when it is verified or failed',
          params: scopeParamsSchema,
          response: { 201: backupSchema },
        },
      },
      async (req, reply) => {
        const { environment, service } = resolveScope(store, req.params);
        const b = await backups.create(engine.data.get(service, environment));
        return reply.code(201).send(backupView(store, b));
      },
    );

    app.put<{ Params: ScopeParams; Body: BackupScheduleBody }>(
      `${base}/schedule`,
      {
        schema: {
          summary:
            "Set the database's backup schedule (five cron fields, UTC) and how many days archives are kept",
          params: scopeParamsSchema,
          body: backupScheduleBodySchema,
          response: { 200: backupStatusSchema },
        },
      },
      async (req): Promise<BackupStatus> => {
        const { environment, service } = resolveScope(store, req.params);
        const ds = engine.data.get(service, environment);
        backups.setSchedule(ds, req.body.cron, req.body.keepDays);
        const s = backups.status(ds);
        if (!s) throw new UserError('Backups are not available on this server.', { status: 503 });
        return backupStatusView(store, s);
      },
    );

    app.get<{ Params: { project: string; env: string } }>(
      envBase,
      {
        schema: {
          summary: "Every backup of the environment's databases, including those of deleted ones",
          response: { 200: backupListSchema },
        },
      },
      async (req): Promise<BackupList> => {
        const project = store.projects.get(req.params.project);
        const environment = store.environments.get(project, req.params.env);
        return backups.listEnvironment(environment).map((b) => backupView(store, b));
      },
    );

    app.get(
      '/v1/backups',
      {
        schema: {
          summary:
            "Every backup on record, with its database's and environment's names (null once deleted); admin token only",
          response: { 200: backupListSchema },
        },
      },
      async (): Promise<BackupList> =>
        store.backups.listAll().map((b) => ({
          ...backupView(store, b),
          environment: store.environments.findById(b.environmentId)?.name ?? null,
        })),
    );

    app.post<{ Params: { project: string; env: string; id: string }; Body: RestoreBackupBody }>(
      `${envBase}/:id/restore`,
      {
        schema: {
          summary:
            'Restore a backup into a new database service (to), or over its own database after a backup of its current state (inPlace)',
          body: restoreBackupBodySchema,
          response: { 200: restoredBackupSchema },
        },
      },
      async (req): Promise<RestoredBackup> => {
        const project = store.projects.get(req.params.project);
        const environment = store.environments.get(project, req.params.env);
        const { to, inPlace } = req.body;
        // Only the admin may bring back a backup of a deleted environment (no project token reaches it any more).
        const admin = req.projectToken === null;
        if ((to === undefined) === !inPlace) {
          throw new UserError(
            'Say where to restore: --to NEW_SERVICE (a new database) or --in-place (over the database it came from).',
          );
        }
        if (to !== undefined) {
          const r = await backups.restoreTo(project, environment, req.params.id, to, { admin });
          return {
            backupId: req.params.id,
            service: r.service.name,
            entries: r.entries,
            preRestoreBackupId: null,
            message: `Restored backup ${req.params.id} into the new database ${r.service.name} (${r.entries} ${r.wording.entries}); the source database was not touched.`,
          };
        }
        const b = store.backups.find(req.params.id);
        const service = b && b.environmentId === environment.id ? store.services.findById(b.serviceId) : null;
        if (!b || !service) {
          throw new UserError(
            `Backup "${req.params.id}" is not a backup of a database that exists in ${environment.name}; \`berth backup list --all\` lists them, and --to restores one into a new service.`,
            { status: 404, code: 'not_found' },
          );
        }
        const r = await backups.restoreInPlace(engine.data.get(service, environment), b.id);
        return {
          backupId: b.id,
          service: service.name,
          entries: r.entries,
          preRestoreBackupId: r.preRestore.id,
          message: `Restored backup ${b.id} over ${service.name} (${r.entries} ${r.wording.entries}): ${r.wording.inPlace}; the state before is backup ${r.preRestore.id}.`,
        };
      },
    );
  };
}
