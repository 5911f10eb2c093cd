/** The variables a data service provides to references (`${{Postgres.DATABASE_URL}}`), Railway's names. */
import type { Store } from '../store/store.js';
import { engineOf } from './engines.js';
import { POOLER_PORT } from './postgres/pgbouncer.js';

/**
 * What the data service of serviceId provides in an environment ({} for apps and where it is not
 * provisioned). privateDomain is its `<service>.<env>.<project>.internal`; publicHost the server's public
 * host name, used when the service is public.
 */
export function dataServiceVariables(
  store: Store,
  serviceId: string,
  environmentId: string,
  names: { privateDomain: string; publicHost: string },
): Record<string, string> {
  const ds = store.dataServices.find(serviceId, environmentId);
  if (!ds) return {};
  const engine = engineOf(ds.engine);
  return engine.variables({
    username: ds.username,
    password: ds.password,
    database: ds.database,
    privateHost: names.privateDomain,
    privatePort: engine.port,
    publicHost: names.publicHost,
    publicPort: ds.publicPort,
    pooledPort: ds.pooler ? POOLER_PORT : null,
  });
}
