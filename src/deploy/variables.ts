import type { Deployment } from '../core/model.js';
import {
  makeRedactor,
  type ResolveInput,
  referencedServices,
  resolveVariables,
  secretPartsOf,
} from '../core/variables/index.js';
import type { Store } from '../store/store.js';
import { providedVariables, type SiteOptions, siteOf } from './context.js';

/** Everything a reference in one environment can reach: each service's variables and provided ones. */
export function resolveInput(
  store: Store,
  serviceId: string,
  environmentId: string,
  site: SiteOptions,
): ResolveInput {
  const target = store.serviceById(serviceId);
  const services: ResolveInput['services'] = {};
  for (const s of store.listServices(target.projectId)) {
    const provided = providedVariables(siteOf(store, s.id, environmentId, site));
    services[s.name] = { variables: store.variables(s.id, environmentId, { includeSealed: true }), provided };
  }
  return {
    service: target.name,
    services,
    shared: store.sharedVariables(environmentId, { includeSealed: true }),
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
  const sealedNames = store
    .variableEntries(serviceId, environmentId)
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
    store.serviceById(serviceId).name,
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
  for (const e of store.sharedEntries(d.environmentId)) if (e.sealed) secrets.add(e.value);
  for (const [name, value] of Object.entries(d.variables))
    for (const part of secretPartsOf(name, value)) secrets.add(part);
  return makeRedactor([...secrets]);
}
