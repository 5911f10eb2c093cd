import type { FastifyInstance } from 'fastify';
import { presentedToken } from '../api/auth.js';
import type { ApiDeps } from '../api/server.js';
import { branchDeleted, deployPush, pushRejected } from './deploy.js';
import { runHttpBackend } from './http-backend.js';
import { ensureRepo, gitRoot } from './repo.js';

/** A push streams its whole build and deploy through the hook; give it room, then kill it. */
const BACKEND_TIMEOUT_MS = 30 * 60 * 1000;
const PATHS = new Set(['info/refs', 'git-upload-pack', 'git-receive-pack']);

/** Smart-HTTP git at `/git/<project>.git/…` and the route its hook calls to deploy a pushed commit. */
export function gitRoutes(deps: ApiDeps) {
  const { store, engine } = deps;
  const dataDir = deps.paths.root;
  return async (app: FastifyInstance) => {
    // Pack bodies (often gzip-encoded) stream straight into git http-backend.
    app.addContentTypeParser(/^application\/x-git-/, (_req, payload, done) => done(null, payload));

    app.route<{ Params: { repo: string; '*': string } }>({
      method: ['GET', 'POST'],
      url: '/git/:repo/*',
      schema: { hide: true },
      handler: async (req, reply) => {
        const { repo } = req.params;
        const rest = req.params['*'];
        const project = repo.endsWith('.git') ? store.projects.find(repo.slice(0, -4)) : null;
        if (!project || !PATHS.has(rest)) {
          return reply.code(404).type('text/plain').send('Not found: no such project repository.\n');
        }
        await ensureRepo(dataDir, project.name);
        const header = req.headers.authorization ?? '';
        let user = 'berth';
        if (header.startsWith('Basic ')) {
          const name = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':')[0];
          if (name) user = name;
        }
        const port = req.socket.localPort;
        runHttpBackend(req, reply, {
          projectRoot: gitRoot(dataDir),
          pathInfo: `/${project.name}.git/${rest}`,
          remoteUser: user,
          env: {
            BERTH_API_URL: `http://127.0.0.1:${port}`,
            BERTH_TOKEN: presentedToken(header),
            BERTH_GIT_PROJECT: project.name,
          },
          timeoutMs: BACKEND_TIMEOUT_MS,
        });
        return reply;
      },
    });

    app.post<{ Params: { project: string }; Body: { sha: string; branch: string; before?: string } }>(
      '/v1/projects/:project/git-deploys',
      {
        schema: {
          summary:
            'Deploy a commit pushed to the project repository to the environment its branch maps to (called by its git hook)',
          body: {
            type: 'object',
            required: ['sha', 'branch'],
            properties: {
              sha: { type: 'string' },
              branch: { type: 'string', minLength: 1 },
              before: { type: 'string' },
            },
          },
        },
      },
      async (req, reply) => {
        const project = store.projects.get(req.params.project);
        const out = await deployPush({ store, engine, dataDir }, project, req.body);
        return reply.code(201).send({
          environment: out.environment.name,
          environmentKind: out.environment.kind,
          environmentCreated: out.environmentCreated,
          deployments: out.deployments.map(({ deployment, service }) => ({
            deploymentId: deployment.id,
            status: deployment.status,
            service: service.name,
            url: engine.urlOf(deployment),
          })),
        });
      },
    );

    app.post<{ Params: { project: string }; Body: { branch: string; environment: string } }>(
      '/v1/projects/:project/git-rejects',
      {
        schema: {
          summary:
            'A push that created a preview was rejected (every deployment FAILED): delete that empty preview (called by the git hook)',
          body: {
            type: 'object',
            required: ['branch', 'environment'],
            properties: {
              branch: { type: 'string', minLength: 1 },
              environment: { type: 'string', minLength: 1 },
            },
          },
        },
      },
      async (req) => {
        const project = store.projects.get(req.params.project);
        const { branch, environment } = req.body;
        return { deleted: await pushRejected({ store, engine, dataDir }, project, branch, environment) };
      },
    );

    app.post<{ Params: { project: string }; Body: { branch: string } }>(
      '/v1/projects/:project/git-deletes',
      {
        schema: {
          summary: 'A branch was deleted from the project repository: tear down its preview environment',
          body: {
            type: 'object',
            required: ['branch'],
            properties: { branch: { type: 'string', minLength: 1 } },
          },
        },
      },
      async (req) => {
        const project = store.projects.get(req.params.project);
        const deleted = await branchDeleted({ store, engine, dataDir }, project, req.body.branch);
        return { deleted };
      },
    );
  };
}
