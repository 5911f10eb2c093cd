import type { FastifyInstance } from 'fastify';
import { type ScaleBody, type ScaleResult, scaleBodySchema, scaleResultSchema } from '../contract/index.js';
import type { ApiDeps } from '../deps.js';
import { requireApp, resolveScope, type ScopeParams, scopeParamsSchema } from '../lookup.js';

/** `berth scale`: replicas of the active deployment, added or removed without a redeploy. */
export function scaleRoutes(deps: ApiDeps) {
  const { store, engine } = deps;
  return async (app: FastifyInstance) => {
    app.post<{ Params: ScopeParams; Body: ScaleBody }>(
      '/v1/projects/:project/environments/:env/services/:service/scale',
      {
        schema: {
          summary:
            'Scale the active deployment to N replicas (new ones health-gated before traffic, removed ones drained)',
          params: scopeParamsSchema,
          body: scaleBodySchema,
          response: { 200: scaleResultSchema },
        },
      },
      async (req): Promise<ScaleResult> => {
        const { service, environment } = resolveScope(store, req.params);
        requireApp(service, 'berth scale');
        const d = await engine.scale(service, environment, req.body.replicas);
        const running = store.workloads.ofDeployment(d.id).filter((w) => w.state === 'running').length;
        return { deploymentId: d.id, running, desired: d.config?.deploy.numReplicas ?? running };
      },
    );
  };
}
