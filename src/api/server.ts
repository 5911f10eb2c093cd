import fs from 'node:fs';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import { UserError } from '../core/errors.js';
import { gitRoutes } from '../git/routes.js';
import { formatBytes } from '../lib/format-bytes.js';
import { rotateStoreKey } from '../store/open-store.js';
import { webhookRoutes } from '../webhooks/routes.js';
import { tokenCheck, tokenGuard, WHOAMI } from './auth.js';
import {
  apiErrorSchema,
  healthSchema,
  type RotatedKey,
  rotatedKeySchema,
  type Whoami,
  whoamiSchema,
} from './contract/index.js';
import type { ApiDeps } from './deps.js';
import { execUpgrade } from './exec.js';
import { apiLimitsFromEnv } from './limits.js';
import { refuseUpgrade } from './raw-refusal.js';
import { backupRoutes } from './routes/backups.js';
import { bucketRoutes } from './routes/buckets.js';
import { cronRoutes } from './routes/cron.js';
import { dataServiceRoutes } from './routes/data-services.js';
import { deploymentRoutes } from './routes/deployments.js';
import { domainRoutes } from './routes/domains.js';
import { environmentRoutes } from './routes/environments.js';
import { metricsRoutes } from './routes/metrics.js';
import { pitrRoutes } from './routes/pitr.js';
import { projectRoutes } from './routes/projects.js';
import { scaleRoutes } from './routes/scale.js';
import { serviceRoutes } from './routes/services.js';
import { sleepRoutes } from './routes/sleep.js';
import { teardownRoutes } from './routes/teardown.js';
import { tokenRoutes } from './routes/tokens.js';
import { variableRoutes } from './routes/variables.js';
import { tunnelUpgrade } from './tunnel.js';

export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const limits = deps.limits ?? apiLimitsFromEnv();
  // Every buffered body (JSON) is small; the upload route streams to disk under its own cap.
  const app = Fastify({ logger: false, bodyLimit: limits.jsonBodyBytes });
  // Answers are written with JSON.stringify, as before routes had response schemas: the schemas document and
  // are tested (test/integration/api-contract.test.ts), they never reshape an answer (fast-json-stringify
  // would drop keys a schema omits and turn a null into "" for a non-nullable string).
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  // Every documented route may answer the one error shape.
  app.addHook('onRoute', (route) => {
    if (!route.schema || route.schema.hide) return;
    route.schema.response = {
      ...(route.schema.response as object),
      '4xx': apiErrorSchema,
      '5xx': apiErrorSchema,
    };
  });
  await app.register(swagger, {
    openapi: {
      info: { title: 'Berth API', version: deps.version, description: 'Control plane of a Berth server' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  // Uploads stream to disk instead of being buffered in memory.
  app.addContentTypeParser(['application/gzip', 'application/octet-stream'], (_req, payload, done) =>
    done(null, payload),
  );
  app.decorateRequest('projectToken', null);
  app.addHook('onRequest', tokenGuard(deps.adminToken, deps.store));
  // `berth ssh` and `berth connect`: upgraded connections, which Fastify's routing never sees.
  const check = tokenCheck(deps.adminToken, deps.store);
  const upgrades = [execUpgrade(deps, check), tunnelUpgrade(deps, check)];
  app.server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    if (upgrades.some((handle) => handle(req, socket, head))) return;
    refuseUpgrade(
      socket,
      404,
      'not_found',
      `No API route upgrades ${(req.url ?? '/').split('?')[0]}; only …/services/:service/exec (berth ssh) and …/services/:service/connect (berth connect) take an Upgrade header.`,
    );
  });
  app.setErrorHandler((caught, req, reply) => {
    const err = caught instanceof Error ? caught : new Error(String(caught));
    if (err instanceof UserError) {
      return reply.code(err.status).send({ error: { code: err.code, message: err.message } });
    }
    const status = (err as { statusCode?: number }).statusCode;
    if (status === 413) {
      return reply.code(413).send({
        error: {
          code: 'payload_too_large',
          message: `The request body is larger than the ${formatBytes(req.routeOptions.bodyLimit ?? limits.jsonBodyBytes)} this route accepts; send less.`,
        },
      });
    }
    if (status && status >= 400 && status < 500) {
      return reply.code(status).send({ error: { code: 'bad_request', message: err.message } });
    }
    app.log.error(err);
    return reply.code(500).send({ error: { code: 'internal', message: `Internal error: ${err.message}` } });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: { code: 'not_found', message: `No API route ${req.method} ${req.url}.` } }),
  );

  app.get(
    '/v1/health',
    { schema: { summary: 'Liveness', security: [], response: { 200: healthSchema } } },
    async () => ({ ok: true, version: deps.version }),
  );
  app.get('/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get(
    WHOAMI,
    {
      schema: {
        summary: 'What the token is: the admin token, or a project token and its scope',
        response: { 200: whoamiSchema },
      },
    },
    async (req): Promise<Whoami> => {
      const t = req.projectToken;
      if (t === null) return { kind: 'admin' };
      const project = deps.store.projects.getById(t.projectId);
      return {
        kind: 'project',
        project: project.name,
        environment: deps.store.environments.get(project, t.environmentId).name,
        token: t.name,
      };
    },
  );
  await app.register(projectRoutes(deps));
  await app.register(serviceRoutes(deps, limits));
  await app.register(deploymentRoutes(deps));
  await app.register(variableRoutes(deps));
  await app.register(domainRoutes(deps));
  await app.register(environmentRoutes(deps));
  await app.register(metricsRoutes(deps));
  await app.register(cronRoutes(deps));
  await app.register(scaleRoutes(deps));
  await app.register(gitRoutes(deps));
  await app.register(webhookRoutes(deps));
  await app.register(tokenRoutes(deps));
  await app.register(teardownRoutes(deps));
  await app.register(dataServiceRoutes(deps));
  await app.register(backupRoutes(deps));
  await app.register(sleepRoutes(deps));
  await app.register(pitrRoutes(deps));
  await app.register(bucketRoutes(deps));
  app.post(
    '/v1/admin/rotate-master-key',
    {
      schema: {
        summary: 'Re-encrypt all values under a new master key',
        response: { 200: rotatedKeySchema },
      },
    },
    async (): Promise<RotatedKey> => rotateStoreKey(deps.store, deps.paths.root),
  );
  return app;
}

export function readVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
