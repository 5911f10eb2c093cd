import { bucketVariables } from '../buckets/variables.js';
import type { Deployment, Environment, Service } from '../core/model.js';
import {
  makeRedactor,
  type ResolveInput,
  referencedServices,
  resolveVariables,
  secretPartsOf,
} from '../core/variables/index.js';
import { dataServiceVariables } from '../data/provided.js';
import type { Store } from '../store/store.js';
import { providedVariables, type SiteOptions, siteOf } from './context.js';

/** Everything a reference in one environment can reach: each service's variables and provided ones. */
export function resolveInput(
  store: Store,
  serviceId: string,
  environmentId: string,
  site: SiteOptions,
): ResolveInput {
  const target = store.services.getById(serviceId);
  const services: ResolveInput['services'] = {};
  for (const s of store.services.list(target.projectId)) {
    const names = siteOf(store, s.id, environmentId, site);
    const provided = {
      ...providedVariables(names),
      ...dataServiceVariables(store, s.id, environmentId, {
        privateDomain: names.privateDomain,
        publicHost: site.domain,
      }),
      ...bucketVariables(store, s.id, environmentId, site),
    };
    const missing =
      s.kind === 'bucket'
        ? !store.buckets.find(s.id, environmentId)
        : s.kind !== 'app' && !store.dataServices.find(s.id, environmentId);
    const create =
      s.kind === 'bucket'
        ? `berth bucket create ${s.name} -e <environment>`
        : `berth add --database ${s.kind} --service ${s.name} -e <environment>`;
    services[s.name] = {
      variables: store.variables.record(s.id, environmentId, { includeSealed: true }),
      provided,
      ...(missing ? { missingHint: `${s.name} is not provisioned in this environment (${create})` } : {}),
    };
  }
  return {
    service: target.name,
    services,
    shared: store.variables.sharedRecord(environmentId, { includeSealed: true }),
  };
}

/**
 * The variables a new deployment runs with: references resolved now, so the snapshot (and a later
 * rollback) is exactly what the app saw. Throws a VariableReferenceError naming a missing reference.
 */
export function resolveForDeployment(
  store: Store,
  serviceId: string,
  environmentId: string,
  site: SiteOptions,
): { variables: Record<string, string>; sealedNames: string[] } {
  const variables = resolveVariables(resolveInput(store, serviceId, environmentId, site));
  const sealedNames = store.variables
    .entries(serviceId, environmentId)
    .filter((e) => e.sealed)
    .map((e) => e.name);
  return { variables, sealedNames };
}

/** Names of services this one references, for deploy ordering in a batch. */
export function dependenciesOf(
  store: Store,
  serviceId: string,
  environmentId: string,
  site: SiteOptions,
): string[] {
  return referencedServices(
    store.services.getById(serviceId).name,
    resolveInput(store, serviceId, environmentId, site),
  );
}

/**
 * Secret strings of a deployment: sealed values, shared sealed values, values of secret-looking names
 * and passwords inside URLs. They are replaced by *** before any log line is stored or streamed.
 */
export function redactorFor(store: Store, d: Deployment): (text: string) => string {
  const secrets = new Set<string>();
  for (const name of d.sealedNames) {
    const v = d.variables[name];
    if (v) secrets.add(v);
  }
  for (const e of store.variables.sharedEntries(d.environmentId)) if (e.sealed) secrets.add(e.value);
  for (const [name, value] of Object.entries(d.variables))
    for (const part of secretPartsOf(name, value)) secrets.add(part);
  return makeRedactor([...secrets]);
}

/**
 * What `berth run` / `berth shell` inject, as `railway run` does: Berth's provided variables and the
 * service's variables with references resolved — without sealed variables, without any value that carries
 * a sealed value in through a reference (a DATABASE_URL built from a sealed password), and without the
 * provided PORT (a local process picks its own; the private port may be taken on this machine).
 * Throws a VariableReferenceError when a reference does not resolve.
 */
export function localRunVariables(
  store: Store,
  serviceId: string,
  environmentId: string,
  site: SiteOptions,
): Record<string, string> {
  const input = resolveInput(store, serviceId, environmentId, site);
  const resolved = resolveVariables(input);
  const sealedValues: string[] = [];
  const ownSealed = new Set<string>();
  for (const s of store.services.list(store.services.getById(serviceId).projectId)) {
    for (const e of store.variables.entries(s.id, environmentId)) {
      if (!e.sealed) continue;
      sealedValues.push(e.value);
      if (s.id === serviceId) ownSealed.add(e.name);
    }
  }
  for (const e of store.variables.sharedEntries(environmentId)) if (e.sealed) sealedValues.push(e.value);
  const redact = makeRedactor(sealedValues);
  const { PORT: _port, ...provided } = input.services[input.service].provided;
  const out: Record<string, string> = provided;
  for (const [name, value] of Object.entries(resolved)) {
    if (!ownSealed.has(name) && redact(value) === value) out[name] = value;
  }
  return out;
}

/**
 * Services of an environment whose variables, resolved now, differ from what their active
 * deployment runs with (or no longer resolve): the ones a variable change must redeploy.
 */
export function servicesWithPendingChanges(store: Store, env: Environment, site: SiteOptions): Service[] {
  const project = store.projects.getById(env.projectId);
  return store.services.list(project.id).filter((s) => {
    const active = store.deployments.findActiveId(s.id, env.id);
    if (!active) return false;
    try {
      const now = resolveForDeployment(store, s.id, env.id, site).variables;
      return JSON.stringify(now) !== JSON.stringify(store.deployments.get(active).variables);
    } catch {
      return true;
    }
  });
}
