import type { FastifyInstance } from 'fastify';
import { UserError } from '../../core/errors.js';
import type { Environment, VariableEntry } from '../../core/model.js';
import { resolveScope, type ScopeParams, scopeParamsSchema } from '../lookup.js';
import type { ApiDeps } from '../server.js';

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface VariablesPatch {
  set?: Record<string, string>;
  delete?: string[];
  sealed?: boolean;
  skipDeploys?: boolean;
}

const patchSchema = {
  type: 'object',
  properties: {
    set: { type: 'object', additionalProperties: { type: 'string' } },
    delete: { type: 'array', items: { type: 'string' } },
    sealed: { type: 'boolean' },
    skipDeploys: { type: 'boolean' },
  },
} as const;

const detailQuery = { type: 'object', properties: { detail: { type: 'string' } } } as const;

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
function present(entries: VariableEntry[], detail: boolean) {
  if (detail)
    return entries.map((e) => ({ name: e.name, sealed: e.sealed, value: e.sealed ? null : e.value }));
  return Object.fromEntries(entries.filter((e) => !e.sealed).map((e) => [e.name, e.value]));
}

/** Service variables, shared variables of an environment, and environments themselves. */
export function variableRoutes(deps: ApiDeps) {
  const { store, engine } = deps;
  const base = '/v1/projects/:project/environments/:env/services/:service';
  return async (app: FastifyInstance) => {
    app.get<{ Params: ScopeParams; Querystring: { detail?: string } }>(
      `${base}/variables`,
      {
        schema: {
          summary: "The service's variables (sealed ones omitted; detail=1 lists them by name)",
          params: scopeParamsSchema,
          querystring: detailQuery,
        },
      },
      async (req) => {
        const { service, environment } = resolveScope(store, req.params);
        return present(store.variables.entries(service.id, environment.id), req.query.detail === '1');
      },
    );

    app.get<{ Params: ScopeParams }>(
      `${base}/variables/resolved`,
      {
        schema: {
          summary:
            "What `berth run` injects: provided RAILWAY_*/BERTH_* variables and the service's variables with references resolved; nothing sealed or built from a sealed value",
          params: scopeParamsSchema,
        },
      },
      async (req) => {
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
          body: patchSchema,
        },
      },
      async (req) => {
        const { service, environment } = resolveScope(store, req.params);
        checkPatch(req.body, store.variables.entries(service.id, environment.id), service.name);
        store.variables.update(service.id, environment.id, req.body.set ?? {}, req.body.delete ?? [], {
          sealed: req.body.sealed ?? false,
        });
        const d = req.body.skipDeploys ? null : engine.variablesChanged(service, environment);
        return {
          variables: present(store.variables.entries(service.id, environment.id), false),
          deploymentId: d?.id ?? null,
        };
      },
    );

    const envOf = (p: { project: string; env: string }): Environment =>
      store.environments.get(store.projects.get(p.project), p.env);

    app.get<{ Params: { project: string; env: string }; Querystring: { detail?: string } }>(
      '/v1/projects/:project/environments/:env/variables',
      { schema: { summary: 'Shared variables of an environment', querystring: detailQuery } },
      async (req) => present(store.variables.sharedEntries(envOf(req.params).id), req.query.detail === '1'),
    );

    app.patch<{ Params: { project: string; env: string }; Body: VariablesPatch }>(
      '/v1/projects/:project/environments/:env/variables',
      {
        schema: {
          summary:
            'Set and delete shared variables; redeploys the services whose variables change, in reference order',
          body: patchSchema,
        },
      },
      async (req) => {
        const env = envOf(req.params);
        checkPatch(req.body, store.variables.sharedEntries(env.id), `environment ${env.name} (shared)`);
        store.variables.updateShared(env.id, req.body.set ?? {}, req.body.delete ?? [], {
          sealed: req.body.sealed ?? false,
        });
        const deployed = req.body.skipDeploys
          ? []
          : engine.redeployBatch(env, engine.servicesWithPendingChanges(env));
        return {
          variables: present(store.variables.sharedEntries(env.id), false),
          deploymentIds: deployed.map((d) => d.id),
        };
      },
    );
  };
}
