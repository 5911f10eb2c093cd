import type { FastifyInstance } from 'fastify';
import { repoPath } from '../../git/repo.js';
import {
  type DeletedProject,
  type DeletedService,
  type DeleteQuery,
  deletedProjectSchema,
  deletedServiceSchema,
  deleteQuerySchema,
  type StartedDeployment,
  startedDeploymentSchema,
} from '../contract/index.js';
import type { ApiDeps } from '../deps.js';
import { resolveScope, type ScopeParams, scopeParamsSchema } from '../lookup.js';

/** Taking a service down (Railway's `down`), deleting a service, deleting a project. */
export function teardownRoutes(deps: ApiDeps) {
  const { store, engine, paths } = deps;
  return async (app: FastifyInstance) => {
    app.post<{ Params: ScopeParams }>(
      '/v1/projects/:project/environments/:env/services/:service/down',
      {
        schema: {
          summary:
            'Remove the active deployment (it ends REMOVED and its replicas stop); the service, its variables and settings stay',
          params: scopeParamsSchema,
          response: { 200: startedDeploymentSchema },
        },
      },
      async (req): Promise<StartedDeployment> => {
        const { service, environment } = resolveScope(store, req.params);
        const d = await engine.takeDown(service, environment);
        return { deploymentId: d.id, status: d.status };
      },
    );

    app.delete<{ Params: { project: string; service: string }; Querystring: DeleteQuery }>(
      '/v1/projects/:project/services/:service',
      {
        schema: {
          summary:
            'Delete a service in every environment: its replicas, routes, domains, certificates, deployments, variables and files',
          querystring: deleteQuerySchema,
          response: { 200: deletedServiceSchema },
        },
      },
      async (req): Promise<DeletedService> => {
        const project = store.projects.get(req.params.project);
        const service = store.services.get(project, req.params.service);
        return engine.teardown.deleteService(project, service, {
          deleteData: req.query.deleteData === '1',
          skipFinalBackup: req.query.skipFinalBackup === '1',
        });
      },
    );

    app.delete<{ Params: { project: string }; Querystring: DeleteQuery }>(
      '/v1/projects/:project',
      {
        schema: {
          summary:
            'Delete a project: every service (as above), every environment, its tokens, webhook settings and git repository',
          querystring: deleteQuerySchema,
          response: { 200: deletedProjectSchema },
        },
      },
      async (req): Promise<DeletedProject> => {
        const project = store.projects.get(req.params.project);
        return engine.teardown.deleteProject(project, {
          deleteData: req.query.deleteData === '1',
          skipFinalBackup: req.query.skipFinalBackup === '1',
          extraFiles: [repoPath(paths.root, project.name)],
        });
      },
    );
  };
}
