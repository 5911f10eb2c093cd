import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { settingsLayer } from '../../core/config/settings.js';
import { UserError } from '../../core/errors.js';
import type { Deployment, ServiceSettings } from '../../core/model.js';
import type { Store } from '../../store/store.js';
import {
  type DeploymentSummary,
  deploymentListQuerySchema,
  deploymentListSchema,
  type RollbackBody,
  type ServiceSettingsPatch,
  type ServiceSettingsView,
  type StartedDeployment,
  serviceSettingsPatchSchema,
  serviceSettingsSchema,
  startedDeploymentSchema,
  type UpResult,
  upResultSchema,
} from '../contract/index.js';
import type { ApiDeps } from '../deps.js';
import type { ApiLimits } from '../limits.js';
import { requireApp, resolveScope, type ScopeParams, scopeParamsSchema } from '../lookup.js';
import { refuseBodyAndLinger } from '../raw-refusal.js';
import { receiveUpload } from '../receive-upload.js';

function summary(store: Store, d: Deployment): DeploymentSummary {
  const git = store.deployments.findGitMeta(d.id);
  return {
    id: d.id,
    status: d.status,
    createdAt: d.createdAt,
    reason: d.reason,
    kind: d.kind,
    message: d.message,
    gitSha: git?.sha ?? null,
    gitBranch: git?.branch ?? null,
    gitAuthor: git?.author ?? null,
    gitMessage: git?.message ?? null,
  };
}

/** The settings with the patch applied: a value replaces, null removes. */
export function applySettingsPatch(current: ServiceSettings, patch: ServiceSettingsPatch): ServiceSettings {
  const next: Record<string, unknown> = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete next[key];
    else if (value !== undefined) next[key] = value;
  }
  return next as ServiceSettings;
}

/** Deploy verbs and variables of one service in one environment. */
export function serviceRoutes(deps: ApiDeps, limits: ApiLimits) {
  const { store, engine } = deps;
  const base = '/v1/projects/:project/environments/:env/services/:service';
  return async (app: FastifyInstance) => {
    // Uploads cut short by a daemon that died mid-upload are never finished: start clean.
    const uploads = deps.paths.uploads;
    fs.rmSync(uploads, { recursive: true, force: true });
    fs.mkdirSync(uploads, { recursive: true, mode: 0o700 });
    app.post<{ Params: ScopeParams; Querystring: { message?: string; create?: string } }>(
      `${base}/up`,
      {
        bodyLimit: limits.uploadBytes,
        schema: {
          summary: 'Deploy an uploaded source tarball (gzip)',
          params: scopeParamsSchema,
          response: { 201: upResultSchema },
        },
      },
      async (req, reply) => {
        const body = req.body as Readable | undefined;
        if (!body || typeof (body as Readable).pipe !== 'function') {
          throw new UserError('Send the source as a gzipped tarball with Content-Type: application/gzip.');
        }
        // Stored before any lookup can fail, so a half-read upload never leaves a deployment behind.
        const tmp = path.join(uploads, `${randomUUID()}.tar.gz`);
        try {
          await receiveUpload(body, tmp, limits, Number(req.headers['content-length'] ?? 0));
        } catch (err) {
          if (!(err instanceof UserError)) throw err;
          // The connection closes after the answer, once the client has had time to read it.
          reply.hijack();
          refuseBodyAndLinger(req.raw, err.status, err.code, err.message);
          return reply;
        }
        try {
          const { service, environment } = resolveScope(store, req.params, {
            create: req.query.create === '1',
          });
          requireApp(service, 'berth up');
          // The service's root directory and config path apply to an upload as to a push (Railway's `up`).
          const d = engine.deployUpload(service, environment, tmp, req.query.message ?? null, {
            prepare: (created) =>
              store.deployments.setSource(created.id, {
                rootDirectory: service.rootDirectory,
                configPath: service.configPath,
                changedFiles: null,
              }),
          });
          const queued: UpResult = { deploymentId: d.id, status: d.status, url: engine.urlOf(d) };
          return reply.code(201).send(queued);
        } finally {
          fs.rmSync(tmp, { force: true });
        }
      },
    );

    app.get<{ Params: ScopeParams }>(
      `${base}/settings`,
      {
        schema: {
          summary:
            "The service's build and deploy settings in this environment (Railway's dashboard settings)",
          params: scopeParamsSchema,
          response: { 200: serviceSettingsSchema },
        },
      },
      async (req): Promise<ServiceSettingsView> => {
        const { service, environment } = resolveScope(store, req.params);
        return store.serviceSettings.of(service.id, environment.id);
      },
    );
    app.patch<{ Params: ScopeParams; Body: ServiceSettingsPatch }>(
      `${base}/settings`,
      {
        schema: {
          summary:
            'Change build and deploy settings (null clears one); they apply from the next deployment, and a committed railway.toml/json wins over each',
          params: scopeParamsSchema,
          body: serviceSettingsPatchSchema,
          response: { 200: serviceSettingsSchema },
        },
      },
      async (req): Promise<ServiceSettingsView> => {
        const { service, environment } = resolveScope(store, req.params);
        requireApp(service, 'berth service update');
        const next = applySettingsPatch(store.serviceSettings.of(service.id, environment.id), req.body);
        settingsLayer(next); // a bad value is refused now, naming the setting, not at the next deploy
        store.serviceSettings.set(service.id, environment.id, next);
        return next;
      },
    );

    app.get<{ Params: ScopeParams; Querystring: { limit?: number } }>(
      `${base}/deployments`,
      {
        schema: {
          summary: 'Deployments, newest first',
          params: scopeParamsSchema,
          querystring: deploymentListQuerySchema,
          response: { 200: deploymentListSchema },
        },
      },
      async (req): Promise<DeploymentSummary[]> => {
        const { service, environment } = resolveScope(store, req.params);
        return store.deployments
          .list(service.id, environment.id, req.query.limit ?? 20)
          .map((d) => summary(store, d));
      },
    );

    const started = (d: Deployment): StartedDeployment => ({ deploymentId: d.id, status: d.status });
    app.post<{ Params: ScopeParams; Body: RollbackBody | undefined }>(
      `${base}/rollback`,
      {
        schema: {
          summary: 'Roll back to an earlier deployment (no rebuild)',
          params: scopeParamsSchema,
          response: { 201: startedDeploymentSchema },
        },
      },
      async (req, reply) => {
        const { service, environment } = resolveScope(store, req.params);
        requireApp(service, 'berth rollback');
        const d = engine.rollback(service, environment, req.body?.deploymentId);
        return reply.code(201).send(started(d));
      },
    );

    app.post<{ Params: ScopeParams }>(
      `${base}/redeploy`,
      {
        schema: {
          summary: "Re-run the latest deployment's source",
          params: scopeParamsSchema,
          response: { 201: startedDeploymentSchema },
        },
      },
      async (req, reply) => {
        const { service, environment } = resolveScope(store, req.params);
        requireApp(service, 'berth redeploy');
        const d = engine.redeploy(service, environment);
        return reply.code(201).send(started(d));
      },
    );

    app.post<{ Params: ScopeParams }>(
      `${base}/restart`,
      {
        schema: {
          summary: 'Restart the active deployment (health-gated, no rebuild)',
          params: scopeParamsSchema,
          response: { 201: startedDeploymentSchema },
        },
      },
      async (req, reply) => {
        const { service, environment } = resolveScope(store, req.params);
        requireApp(service, 'POST …/restart (data services restart through …/data/restart)');
        const d = engine.restart(service, environment);
        return reply.code(201).send(started(d));
      },
    );
  };
}
