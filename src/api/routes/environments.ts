import type { FastifyInstance } from 'fastify';
import type { Environment } from '../../core/model.js';
import type { ApiDeps } from '../server.js';

export function presentEnvironment(e: Environment) {
  return { name: e.name, kind: e.kind, branch: e.branch, createdAt: e.createdAt };
}

/** Environments of a project: list, create (optionally duplicating one), delete. */
export function environmentRoutes(deps: ApiDeps) {
  const { store, engine } = deps;
  return async (app: FastifyInstance) => {
    app.get<{ Params: { project: string } }>(
      '/v1/projects/:project/environments',
      { schema: { summary: 'Environments of a project' } },
      async (req) => {
        const project = store.projects.get(req.params.project);
        return store.environments.list(project.id).map(presentEnvironment);
      },
    );

    app.post<{ Params: { project: string }; Body: { name: string; duplicate?: string } }>(
      '/v1/projects/:project/environments',
      {
        schema: {
          summary:
            'Create an environment, optionally duplicating another (variables except sealed ones, and deployments)',
          body: {
            type: 'object',
            required: ['name'],
            properties: { name: { type: 'string', minLength: 1 }, duplicate: { type: 'string' } },
          },
        },
      },
      async (req, reply) => {
        const project = store.projects.get(req.params.project);
        const from = req.body.duplicate ? store.environments.get(project, req.body.duplicate) : null;
        const { environment, deployments } = await engine.environments.create(project, req.body.name, {
          duplicate: from,
        });
        return reply.code(201).send({
          name: environment.name,
          createdAt: environment.createdAt,
          deploymentIds: deployments.map((d) => d.id),
        });
      },
    );

    app.delete<{ Params: { project: string; env: string } }>(
      '/v1/projects/:project/environments/:env',
      {
        schema: {
          summary:
            'Delete an environment: stops its replicas, removes its routes, variables, deployments and files (not production)',
        },
      },
      async (req) => {
        const project = store.projects.get(req.params.project);
        const environment = store.environments.get(project, req.params.env);
        return engine.environments.delete(project, environment);
      },
    );
  };
}
