import type { FastifyInstance } from 'fastify';
import { bucketVariables } from '../../buckets/variables.js';
import { UserError } from '../../core/errors.js';
import type { Environment, Service, VariableEntry } from '../../core/model.js';
import {
  type PatchedSharedVariables,
  type PatchedVariables,
  patchedSharedVariablesSchema,
  patchedVariablesSchema,
  type VariableDetail,
  type VariableMap,
  type VariablesPatch,
  type VariablesQuery,
  variableMapSchema,
  variablesPatchSchema,
  variablesQuerySchema,
  variablesReadSchema,
} from '../contract/index.js';
import type { ApiDeps } from '../deps.js';
import { resolveScope, type ScopeParams, scopeParamsSchema } from '../lookup.js';

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function checkPatch(body: VariablesPatch, existing: VariableEntry[], where: string): void {
  for (const k of [...Object.keys(body.set ?? {}), ...(body.delete ?? [])]) {
    if (!VAR_NAME.test(k)) {
      throw new UserError(
        `"${k}" is not a valid variable name; use letters, digits and "_", not starting with a digit.`,
      );
    }
  }
  const names = new Set(existing.map((e) => e.name));
  const missing = (body.delete ?? []).filter((k) => !names.has(k));
  if (missing.length) {
    throw new UserError(`Variable ${missing.join(', ')} is not set on ${where}.`, {
      status: 404,
      code: 'not_found',
    });
  }
}

/** Sealed values never leave the server: plain reads omit them, detail reads show only their names. */
function present(entries: VariableEntry[], detail: boolean): VariableMap | VariableDetail[] {
  if (detail)
    return entries.map((e) => ({ name: e.name, sealed: e.sealed, value: e.sealed ? null : e.value }));
  return plain(entries);
}

function plain(entries: VariableEntry[]): VariableMap {
  return Object.fromEntries(entries.filter((e) => !e.sealed).map((e) => [e.name, e.value]));
}

/** Service variables, shared variables of an environment, and environments themselves. */
export function variableRoutes(deps: ApiDeps) {
  const { store, engine } = deps;
  const base = '/v1/projects/:project/environments/:env/services/:service';
  /** A data service's provided variables (DATABASE_URL, PG*…), shown with its own unless one overrides them. */
  const providedEntries = (service: Service, environment: Environment, stored: VariableEntry[]) => {
    const ds = service.kind === 'app' ? null : store.dataServices.find(service.id, environment.id);
    const provided = ds
      ? engine.data.variables(ds)
      : bucketVariables(store, service.id, environment.id, engine.buckets.site);
    const own = new Set(stored.map((e) => e.name));
    return Object.entries(provided)
      .filter(([name]) => !own.has(name))
      .map(([name, value]): VariableEntry => ({ name, value, sealed: false }));
  };
  return async (app: FastifyInstance) => {
    app.get<{ Params: ScopeParams; Querystring: VariablesQuery }>(
      `${base}/variables`,
      {
        schema: {
          summary: "The service's variables (sealed ones omitted; detail=1 lists them by name)",
          params: scopeParamsSchema,
          querystring: variablesQuerySchema,
          response: { 200: variablesReadSchema },
        },
      },
      async (req) => {
        const { service, environment } = resolveScope(store, req.params);
        const stored = store.variables.entries(service.id, environment.id);
        return present(
          [...providedEntries(service, environment, stored), ...stored],
          req.query.detail === '1',
        );
      },
    );

    app.get<{ Params: ScopeParams }>(
      `${base}/variables/resolved`,
      {
        schema: {
          summary:
            "What `berth run` injects: provided RAILWAY_*/BERTH_* variables and the service's variables with references resolved; nothing sealed or built from a sealed value",
          params: scopeParamsSchema,
          response: { 200: variableMapSchema },
        },
      },
      async (req): Promise<VariableMap> => {
        const { service, environment } = resolveScope(store, req.params);
        return engine.runVariables(service, environment);
      },
    );

    app.patch<{ Params: ScopeParams; Body: VariablesPatch }>(
      `${base}/variables`,
      {
        schema: {
          summary: 'Set (optionally sealed) and delete variables; redeploys unless skipDeploys',
          params: scopeParamsSchema,
          body: variablesPatchSchema,
          response: { 200: patchedVariablesSchema },
        },
      },
      async (req): Promise<PatchedVariables> => {
        const { service, environment } = resolveScope(store, req.params);
        checkPatch(req.body, store.variables.entries(service.id, environment.id), service.name);
        store.variables.update(service.id, environment.id, req.body.set ?? {}, req.body.delete ?? [], {
          sealed: req.body.sealed ?? false,
        });
        const d = req.body.skipDeploys ? null : engine.variablesChanged(service, environment);
        return {
          variables: plain(store.variables.entries(service.id, environment.id)),
          deploymentId: d?.id ?? null,
        };
      },
    );

    const envOf = (p: { project: string; env: string }): Environment =>
      store.environments.get(store.projects.get(p.project), p.env);

    app.get<{ Params: { project: string; env: string }; Querystring: VariablesQuery }>(
      '/v1/projects/:project/environments/:env/variables',
      {
        schema: {
          summary: 'Shared variables of an environment',
          querystring: variablesQuerySchema,
          response: { 200: variablesReadSchema },
        },
      },
      async (req) => present(store.variables.sharedEntries(envOf(req.params).id), req.query.detail === '1'),
    );

    app.patch<{ Params: { project: string; env: string }; Body: VariablesPatch }>(
      '/v1/projects/:project/environments/:env/variables',
      {
        schema: {
          summary:
            'Set and delete shared variables; redeploys the services whose variables change, in reference order',
          body: variablesPatchSchema,
          response: { 200: patchedSharedVariablesSchema },
        },
      },
      async (req): Promise<PatchedSharedVariables> => {
        const env = envOf(req.params);
        checkPatch(req.body, store.variables.sharedEntries(env.id), `environment ${env.name} (shared)`);
        store.variables.updateShared(env.id, req.body.set ?? {}, req.body.delete ?? [], {
          sealed: req.body.sealed ?? false,
        });
        const deployed = req.body.skipDeploys
          ? []
          : engine.redeployBatch(env, engine.servicesWithPendingChanges(env));
        return {
          variables: plain(store.variables.sharedEntries(env.id)),
          deploymentIds: deployed.map((d) => d.id),
        };
      },
    );
  };
}
