import type { FastifyInstance } from 'fastify';
import { UserError } from '../../core/errors.js';
import type { Service } from '../../core/model.js';
import { diskSpace } from '../../lib/disk.js';
import type { DataService } from '../../store/data-services.js';
import { checkRepoUrl } from '../../webhooks/remote.js';
import {
  type CreatedProject,
  type CreateProjectBody,
  type CreateServiceBody,
  createdProjectSchema,
  createProjectBodySchema,
  createServiceBodySchema,
  type EnvironmentStatus,
  environmentStatusSchema,
  type ProjectDetail,
  type ProjectSummary,
  projectDetailSchema,
  projectListSchema,
  type ServiceSourcePatch,
  type ServiceSummary,
  serviceSourcePatchSchema,
  serviceSummarySchema,
} from '../contract/index.js';
import type { ApiDeps } from '../deps.js';
import { requireApp } from '../lookup.js';
import { checkConfigPath, checkRootDirectory } from '../service-source.js';
import { backupStatusView } from './backups.js';

type SourceBody = ServiceSourcePatch;

/** Checks every field of a service source body; undefined stays undefined (unchanged). */
function checkedSource(b: SourceBody): SourceBody {
  const branch = b.repoBranch === '' ? null : b.repoBranch;
  const repoUrl = b.repoUrl === '' ? null : b.repoUrl;
  if (branch && !/^[A-Za-z0-9._/-]+$/.test(branch)) {
    throw new UserError(
      `Branch "${branch}" is not a branch name Berth accepts; use letters, digits, ".", "_", "-" and "/".`,
    );
  }
  return {
    rootDirectory: checkRootDirectory(b.rootDirectory),
    configPath: checkConfigPath(b.configPath),
    repoUrl: typeof repoUrl === 'string' ? checkRepoUrl(repoUrl) : repoUrl,
    repoBranch: branch,
    waitForChecks: b.waitForChecks,
  };
}

function presentService(s: Service): ServiceSummary {
  return {
    id: s.id,
    name: s.name,
    createdAt: s.createdAt,
    rootDirectory: s.rootDirectory,
    configPath: s.configPath,
    repoUrl: s.repoUrl,
    repoBranch: s.repoBranch,
    waitForChecks: s.waitForChecks,
    kind: s.kind,
  };
}

/** Projects, their environments and services, and the per-environment status view. */
export function projectRoutes(deps: ApiDeps) {
  const { store, engine, paths } = deps;
  const backupStatusOf = (data: DataService) => {
    const summary = deps.backups.status(data);
    return summary ? backupStatusView(store, summary) : null;
  };

  return async (app: FastifyInstance) => {
    app.get(
      '/v1/projects',
      { schema: { summary: 'List projects', response: { 200: projectListSchema } } },
      async (): Promise<ProjectSummary[]> => store.projects.list(),
    );

    app.post<{ Body: CreateProjectBody }>(
      '/v1/projects',
      {
        schema: {
          summary: 'Create a project (with a production environment)',
          body: createProjectBodySchema,
          response: { 201: createdProjectSchema },
        },
      },
      async (req, reply) => {
        const { project, environments } = store.projects.create(req.body.name);
        const created: CreatedProject = {
          ...project,
          environments: environments.map((e) => ({ id: e.id, name: e.name })),
        };
        return reply.code(201).send(created);
      },
    );

    app.get<{ Params: { project: string } }>(
      '/v1/projects/:project',
      { schema: { summary: 'Show a project', response: { 200: projectDetailSchema } } },
      async (req): Promise<ProjectDetail> => {
        const project = store.projects.get(req.params.project);
        return {
          ...project,
          environments: store.environments
            .list(project.id)
            .map((e) => ({ id: e.id, name: e.name, createdAt: e.createdAt })),
          services: store.services.list(project.id).map(presentService),
        };
      },
    );

    app.post<{ Params: { project: string }; Body: CreateServiceBody }>(
      '/v1/projects/:project/services',
      {
        schema: {
          summary:
            'Add an empty service (optionally with its root directory and config path in the repository)',
          body: createServiceBodySchema,
          response: { 201: serviceSummarySchema },
        },
      },
      async (req, reply) => {
        const project = store.projects.get(req.params.project);
        const { name, ...body } = req.body;
        const source = checkedSource(body);
        const s = store.services.create(project, name);
        return reply.code(201).send(presentService(store.services.updateSource(s.id, source)));
      },
    );

    app.patch<{ Params: { project: string; service: string }; Body: SourceBody }>(
      '/v1/projects/:project/services/:service',
      {
        schema: {
          summary:
            "Set where a service's source comes from: root directory and config path in the repository (git pushes deploy every service with either set), a remote repository and branch it tracks (webhooks deploy it), and wait for checks (null clears a setting)",
          body: serviceSourcePatchSchema,
          response: { 200: serviceSummarySchema },
        },
      },
      async (req): Promise<ServiceSummary> => {
        const project = store.projects.get(req.params.project);
        const service = store.services.get(project, req.params.service);
        requireApp(service, 'berth service update');
        return presentService(store.services.updateSource(service.id, checkedSource(req.body ?? {})));
      },
    );

    app.get<{ Params: { project: string; env: string } }>(
      '/v1/projects/:project/environments/:env/status',
      {
        schema: {
          summary: 'Services of an environment with their status and URL',
          response: { 200: environmentStatusSchema },
        },
      },
      async (req): Promise<EnvironmentStatus> => {
        const project = store.projects.get(req.params.project);
        const environment = store.environments.get(project, req.params.env);
        const desiredOf = (activeId: string | null) => {
          const deploy = activeId ? store.deployments.get(activeId).config?.deploy : null;
          return deploy && !deploy.cronSchedule ? { desiredReplicas: deploy.numReplicas } : {};
        };
        const cronOf = (activeId: string | null) => {
          const schedule = activeId ? store.deployments.get(activeId).config?.deploy.cronSchedule : null;
          if (!activeId || !schedule) return {};
          return { cron: { schedule, nextRunAt: engine.cron.nextRun(activeId)?.toISOString() ?? null } };
        };
        // A bucket is served by the object store: its state is the store's.
        const stateOf = (s: Service, data: DataService | null) => {
          if (s.kind === 'bucket') {
            if (!store.buckets.find(s.id, environment.id)) return 'not provisioned';
            return engine.buckets.objectStore.pid() === null ? 'stopped' : 'running';
          }
          return data ? engine.data.state(data) : 'not provisioned';
        };
        const services = store.services.list(project.id).map((s) => {
          const latest = store.deployments.list(s.id, environment.id, 1)[0];
          const activeId = store.deployments.findActiveId(s.id, environment.id);
          const replicas = activeId
            ? store.workloads.ofDeployment(activeId).filter((i) => i.state === 'running').length
            : 0;
          const data = s.kind === 'app' ? null : store.dataServices.find(s.id, environment.id);
          return {
            name: s.name,
            status: latest?.status ?? null,
            url:
              s.kind === 'app'
                ? engine.serviceUrl(s, environment)
                : s.kind === 'bucket'
                  ? engine.buckets.urlOf(s, environment)
                  : null,
            deploymentId: activeId,
            replicas,
            ...desiredOf(activeId),
            kind: s.kind,
            state: s.kind === 'app' ? null : stateOf(s, data),
            ...(s.kind === 'app' && activeId ? { sleeping: engine.sleep.apps.isAsleep(activeId) } : {}),
            ...(data ? { backups: backupStatusOf(data) } : {}),
            ...(data?.engine === 'postgres' ? { pitr: deps.pitr.summary(data) } : {}),
            ...cronOf(activeId),
            ...(activeId ? engine.replicas.scalingStatus(store.deployments.get(activeId)) : {}),
          };
        });
        // The data dir's filesystem: builds, logs and the database fail when it is full.
        return {
          project: project.name,
          environment: environment.name,
          services,
          disk: diskSpace(paths.root),
        };
      },
    );
  };
}
