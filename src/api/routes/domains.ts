import type { FastifyInstance } from 'fastify';
import {
  type AddDomainBody,
  addDomainBodySchema,
  type CertificateBody,
  certificateBodySchema,
  type EdgePolicyPatch,
  type EdgePolicyView,
  edgePolicyPatchSchema,
  edgePolicyViewSchema,
  type ServiceDomains,
  serviceDomainsSchema,
} from '../contract/index.js';
import type { ApiDeps } from '../deps.js';
import { requireApp, resolveScope, type ScopeParams, scopeParamsSchema } from '../lookup.js';

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
          response: { 200: serviceDomainsSchema },
        },
      },
      async (req): Promise<ServiceDomains> => {
        const { service, environment } = resolveScope(store, req.params);
        return engine.domains.of(service, environment);
      },
    );

    app.post<{ Params: ScopeParams; Body: AddDomainBody }>(
      base,
      {
        schema: {
          summary: 'Add a custom domain; the edge serves it as soon as this answers',
          params: scopeParamsSchema,
          body: addDomainBodySchema,
          response: { 201: serviceDomainsSchema },
        },
      },
      async (req, reply) => {
        const { service, environment } = resolveScope(store, req.params);
        // A public bucket is served at its custom domains too.
        if (service.kind !== 'bucket') requireApp(service, 'berth domain');
        const { hostname, httpsRedirect } = req.body;
        const domains: ServiceDomains = await engine.domains.add(service, environment, hostname, {
          httpsRedirect,
        });
        return reply.code(201).send(domains);
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
          response: { 200: edgePolicyViewSchema },
        },
      },
      async (req): Promise<EdgePolicyView> => {
        const { service, environment } = resolveScope(store, req.params);
        return engine.edgePolicies.of(service, environment);
      },
    );
    app.patch<{ Params: ScopeParams; Body: EdgePolicyPatch }>(
      policyPath,
      {
        schema: {
          summary:
            'Change the edge policy (keys of [edge]; null clears one); applied at once. railway.toml [edge] keys win.',
          params: scopeParamsSchema,
          body: edgePolicyPatchSchema,
          response: { 200: edgePolicyViewSchema },
        },
      },
      async (req): Promise<EdgePolicyView> => {
        const { service, environment } = resolveScope(store, req.params);
        return engine.edgePolicies.set(service, environment, req.body);
      },
    );

    app.put<{ Params: ScopeParams & { hostname: string }; Body: CertificateBody }>(
      `${base}/:hostname/certificate`,
      {
        schema: {
          summary: 'Use an uploaded certificate (PEM chain, leaf first) and private key for a custom domain',
          params: hostnameParamsSchema,
          body: certificateBodySchema,
          response: { 200: serviceDomainsSchema },
        },
      },
      async (req): Promise<ServiceDomains> => {
        const { service, environment } = resolveScope(store, req.params);
        return engine.domains.uploadCertificate(service, environment, req.params.hostname, req.body);
      },
    );

    app.delete<{ Params: ScopeParams & { hostname: string } }>(
      `${base}/:hostname`,
      {
        schema: {
          summary: 'Remove a custom domain; the edge stops serving it as soon as this answers',
          params: hostnameParamsSchema,
          response: { 200: serviceDomainsSchema },
        },
      },
      async (req): Promise<ServiceDomains> => {
        const { service, environment } = resolveScope(store, req.params);
        return engine.domains.delete(service, environment, req.params.hostname);
      },
    );
  };
}
