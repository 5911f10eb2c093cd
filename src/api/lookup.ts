import { UserError } from '../core/errors.js';
import type { Environment, Project, Service } from '../core/model.js';
import type { Store } from '../store/store.js';

export interface ScopeParams {
  project: string;
  env: string;
  service: string;
}

/** Resolves `:project/:env/:service` path params (names or ids) or throws a 404 that says which part is missing. */
export function resolveScope(
  store: Store,
  p: ScopeParams,
  opts: { create?: boolean } = {},
): { project: Project; environment: Environment; service: Service } {
  // Creating: a service name that is refused must not leave the project made for it behind.
  if (opts.create) return store.transaction(() => findOrCreate(store, p, opts));
  return findOrCreate(store, p, opts);
}

function findOrCreate(
  store: Store,
  p: ScopeParams,
  opts: { create?: boolean },
): { project: Project; environment: Environment; service: Service } {
  let project = store.projects.find(p.project);
  if (!project && opts.create) project = store.projects.create(p.project).project;
  if (!project) project = store.projects.get(p.project);
  const environment = store.environments.get(project, p.env);
  let service = store.services.find(project, p.service);
  if (!service && opts.create) service = store.services.create(project, p.service);
  if (!service) service = store.services.get(project, p.service);
  return { project, environment, service };
}

export const scopeParamsSchema = {
  type: 'object',
  required: ['project', 'env', 'service'],
  properties: { project: { type: 'string' }, env: { type: 'string' }, service: { type: 'string' } },
} as const;

const ENGINE_NAMES: Record<string, string> = {
  postgres: 'a PostgreSQL database',
  redis: 'a Redis database',
};

/**
 * Verbs that build or deploy source (up, redeploy, rollback, build settings) refuse a data service with one
 * sentence: Berth runs it from its spec, not from source.
 */
export function requireApp(service: Service, verb: string): void {
  if (service.kind === 'app') return;
  if (service.kind === 'bucket') {
    throw new UserError(
      `${service.name} is a bucket, which the object store serves rather than anything built from source, so \`${verb}\` does not apply; see \`berth bucket info ${service.name}\`.`,
      { status: 409, code: 'not_an_app' },
    );
  }
  throw new UserError(
    `${service.name} is ${ENGINE_NAMES[service.kind] ?? `a ${service.kind} service`}, which Berth runs from its spec rather than from source, so \`${verb}\` does not apply; \`berth restart -s ${service.name}\` restarts it and \`berth db config set\` changes its settings.`,
    { status: 409, code: 'not_an_app' },
  );
}
