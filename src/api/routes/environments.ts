import type { FastifyInstance } from 'fastify';
import type { Environment } from '../../core/model.js';
import {
  type CreatedEnvironment,
  type CreateEnvironmentBody,
  createdEnvironmentSchema,
  createEnvironmentBodySchema,
  type DeletedEnvironment,
  type DeleteEnvironmentQuery,
  deletedEnvironmentSchema,
  deleteEnvironmentQuerySchema,
  type EnvironmentSummary,
  environmentListSchema,
} from '../contract/index.js';
import type { ApiDeps } from '../deps.js';

export function presentEnvironment(e: Environment): EnvironmentSummary {
  return { name: e.name, kind: e.kind, branch: e.branch, createdAt: e.createdAt };
}

/** Environments of a project: list, create (optionally duplicating one), delete. */
export function environmentRoutes(deps: ApiDeps) {
  const { store, engine } = deps;
  return async (app: FastifyInstance) => {
    app.get<{ Params: { project: string } }>(
      '/v1/projects/:project/environments',
      { schema: { summary: 'Environments of a project', response: { 200: environmentListSchema } } },
      async (req): Promise<EnvironmentSummary[]> => {
        const project = store.projects.get(req.params.project);
        return store.environments.list(project.id).map(presentEnvironment);
      },
    );

    app.post<{ Params: { project: string }; Body: CreateEnvironmentBody }>(
      '/v1/projects/:project/environments',
      {
        schema: {
          summary:
            'Create an environment, optionally duplicating another (variables except sealed ones, and deployments)',
          body: createEnvironmentBodySchema,
          response: { 201: createdEnvironmentSchema },
        },
      },
      async (req, reply) => {
        const project = store.projects.get(req.params.project);
        const from = req.body.duplicate ? store.environments.get(project, req.body.duplicate) : null;
        const { environment, deployments } = await engine.environments.create(project, req.body.name, {
          duplicate: from,
        });
        const created: CreatedEnvironment = {
          name: environment.name,
          createdAt: environment.createdAt,
          deploymentIds: deployments.map((d) => d.id),
        };
        return reply.code(201).send(created);
      },
    );

    app.delete<{ Params: { project: string; env: string }; Querystring: DeleteEnvironmentQuery }>(
      '/v1/projects/:project/environments/:env',
      {
        schema: {
          querystring: deleteEnvironmentQuerySchema,
          summary:
            'Delete an environment: stops its replicas, removes its routes, variables, deployments and files (not production)',
          response: { 200: deletedEnvironmentSchema },
        },
      },
      async (req): Promise<DeletedEnvironment> => {
        const project = store.projects.get(req.params.project);
        const environment = store.environments.get(project, req.params.env);
        return engine.environments.delete(project, environment, {
          skipFinalBackup: req.query.skipFinalBackup === '1',
        });
      },
    );
  };
}
