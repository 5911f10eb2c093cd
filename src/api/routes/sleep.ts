import type { FastifyInstance } from 'fastify';
import {
  type DataSleepBody,
  type DataSleepView,
  dataSleepBodySchema,
  dataSleepSchema,
} from '../contract/index.js';
import type { ApiDeps } from '../deps.js';
import { resolveScope, type ScopeParams, scopeParamsSchema } from '../lookup.js';

/** What `berth db sleep` says: the setting in one sentence. */
function sentence(service: string, afterSeconds: number | null, asleep: boolean): string {
  if (afterSeconds === null) return `${service} never sleeps (scale to zero is off).`;
  return `${service} sleeps after ${afterSeconds}s without a client connection and wakes on the next one${asleep ? '; it sleeps now' : ''}.`;
}

/** `berth db sleep`: scale to zero of a database (src/data/sleep.ts). */
export function sleepRoutes(deps: ApiDeps) {
  const { store, engine } = deps;
  return async (app: FastifyInstance) => {
    app.post<{ Params: ScopeParams; Body: DataSleepBody }>(
      '/v1/projects/:project/environments/:env/services/:service/data/sleep',
      {
        schema: {
          summary:
            'Stop the database after this many seconds without a client connection and start it on the next connection (null: never)',
          params: scopeParamsSchema,
          body: dataSleepBodySchema,
          response: { 200: dataSleepSchema },
        },
      },
      async (req): Promise<DataSleepView> => {
        const { service, environment } = resolveScope(store, req.params);
        const ds = engine.data.get(service, environment);
        const s = await engine.sleep.data.set(ds, req.body.afterSeconds);
        return { service: service.name, ...s, message: sentence(service.name, s.afterSeconds, s.asleep) };
      },
    );
  };
}
