import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.js';
import { resolveScope, type ScopeParams, scopeParamsSchema } from '../lookup.js';

const hostnameParamsSchema = {
  type: 'object',
  required: ['project', 'env', 'service', 'hostname'],
  properties: { ...scopeParamsSchema.properties, hostname: { type: 'string' } },
} as const;

/** The generated domain, custom domains and edge policy of one service in one environment. */
export function domainRoutes(deps: ApiDeps) {
  const { store, engine } = deps;
  const base = '/v1/projects/:project/environments/:env/services/:service/domains';
  return async (app: FastifyInstance) => {
    app.get<{ Params: ScopeParams }>(
      base,
      {
        schema: {
          summary: 'The generated domain and the custom domains of a service',
          params: scopeParamsSchema,
        },
      },
      async (req) => {
        const { service, environment } = resolveScope(store, req.params);
        return engine.domainsOf(service, environment);
      },
    );

    app.post<{ Params: ScopeParams; Body: { hostname: string; httpsRedirect?: boolean } }>(
      base,
      {
        schema: {
          summary: 'Add a custom domain; the edge serves it as soon as this answers',
          params: scopeParamsSchema,
          body: {
            type: 'object',
            required: ['hostname'],
            additionalProperties: false,
            properties: {
              hostname: { type: 'string', minLength: 1, maxLength: 300 },
              httpsRedirect: { type: 'boolean', default: true },
            },
          },
        },
      },
      async (req, reply) => {
        const { service, environment } = resolveScope(store, req.params);
        const { hostname, httpsRedirect } = req.body;
        return reply
          .code(201)
          .send(await engine.addDomain(service, environment, hostname, { httpsRedirect }));
      },
    );

    const policyPath = '/v1/projects/:project/environments/:env/services/:service/edge-policy';
    app.get<{ Params: ScopeParams }>(
      policyPath,
      {
        schema: {
          summary:
            "The service's edge policy (rate limit, body size, IP and path rules) and each value's origin",
          params: scopeParamsSchema,
        },
      },
      async (req) => {
        const { service, environment } = resolveScope(store, req.params);
        return engine.edgePolicyOf(service, environment);
      },
    );
    app.patch<{ Params: ScopeParams; Body: Record<string, unknown> }>(
      policyPath,
      {
        schema: {
          summary:
            'Change the edge policy (keys of [edge]; null clears one); applied at once. railway.toml [edge] keys win.',
          params: scopeParamsSchema,
          body: { type: 'object' },
        },
      },
      async (req) => {
        const { service, environment } = resolveScope(store, req.params);
        return engine.setEdgePolicy(service, environment, req.body);
      },
    );

    app.put<{ Params: ScopeParams & { hostname: string }; Body: { cert: string; key: string } }>(
      `${base}/:hostname/certificate`,
      {
        schema: {
          summary: 'Use an uploaded certificate (PEM chain, leaf first) and private key for a custom domain',
          params: hostnameParamsSchema,
          body: {
            type: 'object',
            required: ['cert', 'key'],
            additionalProperties: false,
            properties: {
              cert: { type: 'string', maxLength: 65536 },
              key: { type: 'string', maxLength: 16384 },
            },
          },
        },
      },
      async (req) => {
        const { service, environment } = resolveScope(store, req.params);
        return engine.uploadCertificate(service, environment, req.params.hostname, req.body);
      },
    );

    app.delete<{ Params: ScopeParams & { hostname: string } }>(
      `${base}/:hostname`,
      {
        schema: {
          summary: 'Remove a custom domain; the edge stops serving it as soon as this answers',
          params: hostnameParamsSchema,
        },
      },
      async (req) => {
        const { service, environment } = resolveScope(store, req.params);
        return engine.deleteDomain(service, environment, req.params.hostname);
      },
    );
  };
}
