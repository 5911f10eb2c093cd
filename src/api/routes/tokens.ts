import type { FastifyInstance } from 'fastify';
import { NotFoundError, UserError } from '../../core/errors.js';
import type { Project } from '../../core/model.js';
import type { ProjectToken } from '../../store/tokens.js';
import type { ApiDeps } from '../server.js';

/**
 * Project tokens (Railway's RAILWAY_TOKEN, for CI): create, list, revoke. Admin only — a project token gets 403
 * here (api/auth.ts) — and the secret is shown once, when created.
 */
export function tokenRoutes(deps: ApiDeps) {
  const { store } = deps;
  const present = (project: Project, t: ProjectToken) => ({
    id: t.id,
    name: t.name,
    environment: store.environments.get(project, t.environmentId).name,
    createdAt: t.createdAt,
    lastUsedAt: t.lastUsedAt,
  });
  return async (app: FastifyInstance) => {
    app.post<{ Params: { project: string }; Body: { environment?: string; name?: string } }>(
      '/v1/projects/:project/tokens',
      {
        schema: {
          summary: 'Create a project token for one environment (the secret is in this answer only)',
          body: {
            type: 'object',
            properties: {
              environment: { type: 'string', minLength: 1 },
              name: { type: 'string', minLength: 1 },
            },
          },
        },
      },
      async (req, reply) => {
        const project = store.projects.get(req.params.project);
        const environment = store.environments.get(project, req.body?.environment ?? 'production');
        const name = req.body?.name ?? `${environment.name}-${new Date().toISOString().slice(0, 10)}`;
        if (store.tokens.list(project.id).some((t) => t.name === name)) {
          throw new UserError(
            `Project ${project.name} already has a token named "${name}"; pick another --name.`,
            {
              status: 409,
              code: 'conflict',
            },
          );
        }
        const { token, secret } = store.tokens.create(project.id, environment.id, name);
        return reply.code(201).send({ ...present(project, token), token: secret });
      },
    );

    app.get<{ Params: { project: string } }>(
      '/v1/projects/:project/tokens',
      { schema: { summary: "A project's tokens (without their secrets)" } },
      async (req) => {
        const project = store.projects.get(req.params.project);
        return store.tokens.list(project.id).map((t) => present(project, t));
      },
    );

    app.delete<{ Params: { project: string; token: string } }>(
      '/v1/projects/:project/tokens/:token',
      { schema: { summary: 'Revoke a project token (by id or name)' } },
      async (req) => {
        const project = store.projects.get(req.params.project);
        if (!store.tokens.delete(project.id, req.params.token)) {
          throw new NotFoundError(
            `Project ${project.name} has no token "${req.params.token}"; list them with \`berth token list\`.`,
          );
        }
        return { deleted: req.params.token };
      },
    );
  };
}
