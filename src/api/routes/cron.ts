import type { FastifyInstance } from 'fastify';
import type { StoredCronRun } from '../../store/cron-runs.js';
import {
  type CronRun,
  type CronRunsQuery,
  cronRunListSchema,
  cronRunSchema,
  cronRunsQuerySchema,
} from '../contract/index.js';
import type { ApiDeps } from '../deps.js';
import { resolveScope, type ScopeParams, scopeParamsSchema } from '../lookup.js';

function answer(run: StoredCronRun): CronRun {
  return {
    id: run.id,
    deploymentId: run.deploymentId,
    trigger: run.trigger,
    status: run.status,
    startedAt: run.startedAt,
    endedAt: run.endedAt,
    exitCode: run.exitCode,
    reason: run.reason,
    logs: run.logs,
  };
}

/** Runs of cron services: their records, and one run now. */
export function cronRoutes(deps: ApiDeps) {
  const { store, engine } = deps;
  const base = '/v1/projects/:project/environments/:env/services/:service/cron';
  return async (app: FastifyInstance) => {
    app.get<{ Params: ScopeParams; Querystring: CronRunsQuery }>(
      `${base}/runs`,
      {
        schema: {
          summary: "A cron service's runs (started, skipped, timed out), newest first",
          params: scopeParamsSchema,
          querystring: cronRunsQuerySchema,
          response: { 200: cronRunListSchema },
        },
      },
      async (req): Promise<CronRun[]> => {
        const { environment, service } = resolveScope(store, req.params);
        return engine.cron.runs(service.id, environment.id, req.query.limit ?? 50).map(answer);
      },
    );

    app.post<{ Params: ScopeParams }>(
      `${base}/trigger`,
      {
        schema: {
          summary: "Runs a cron service's start command once now (skipped and recorded if a run is going)",
          params: scopeParamsSchema,
          response: { 200: cronRunSchema },
        },
      },
      async (req): Promise<CronRun> => {
        const { environment, service } = resolveScope(store, req.params);
        return answer(await engine.cron.trigger(service.id, environment.id, service.name));
      },
    );
  };
}
