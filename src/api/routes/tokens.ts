import type { FastifyInstance } from 'fastify';
import { NotFoundError, UserError } from '../../core/errors.js';
import type { Project } from '../../core/model.js';
import type { ProjectToken } from '../../store/tokens.js';
import {
  type CreatedToken,
  type CreateTokenBody,
  createdTokenSchema,
  createTokenBodySchema,
  type DeletedToken,
  deletedTokenSchema,
  type TokenSummary,
  tokenListSchema,
} from '../contract/index.js';
import type { ApiDeps } from '../deps.js';

/**
 * Project tokens (Railway's RAILWAY_TOKEN, for CI): create, list, revoke. Admin only — a project token gets 403
 * here (api/auth.ts) — and the secret is shown once, when created.
 */
export function tokenRoutes(deps: ApiDeps) {
  const { store } = deps;
  const present = (project: Project, t: ProjectToken): TokenSummary => ({
    id: t.id,
    name: t.name,
    environment: store.environments.get(project, t.environmentId).name,
    createdAt: t.createdAt,
    lastUsedAt: t.lastUsedAt,
  });
  return async (app: FastifyInstance) => {
    app.post<{ Params: { project: string }; Body: CreateTokenBody | undefined }>(
      '/v1/projects/:project/tokens',
      {
        schema: {
          summary: 'Create a project token for one environment (the secret is in this answer only)',
          body: createTokenBodySchema,
          response: { 201: createdTokenSchema },
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
        const created: CreatedToken = { ...present(project, token), token: secret };
        return reply.code(201).send(created);
      },
    );

    app.get<{ Params: { project: string } }>(
      '/v1/projects/:project/tokens',
      {
        schema: { summary: "A project's tokens (without their secrets)", response: { 200: tokenListSchema } },
      },
      async (req): Promise<TokenSummary[]> => {
        const project = store.projects.get(req.params.project);
        return store.tokens.list(project.id).map((t) => present(project, t));
      },
    );

    app.delete<{ Params: { project: string; token: string } }>(
      '/v1/projects/:project/tokens/:token',
      {
        schema: { summary: 'Revoke a project token (by id or name)', response: { 200: deletedTokenSchema } },
      },
      async (req): Promise<DeletedToken> => {
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
