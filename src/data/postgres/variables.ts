/** Railway's provided variables of a Postgres service, from its credentials and addresses (pure). */

export interface PostgresEndpoint {
  username: string;
  password: string;
  database: string;
  /** Its private host name (`<service>.<env>.<project>.internal`) and port. */
  privateHost: string;
  privatePort: number;
  /** Where it is reached from outside, when public. */
  publicHost?: string | null;
  publicPort?: number | null;
  /** PgBouncer's port at the private host, when the pooler is on. */
  pooledPort?: number | null;
}

export function postgresUrl(
  e: { username: string; password: string; database: string },
  host: string,
  port: number,
) {
  const user = encodeURIComponent(e.username);
  const password = encodeURIComponent(e.password);
  return `postgresql://${user}:${password}@${host}:${port}/${encodeURIComponent(e.database)}`;
}

/** DATABASE_URL, PG*, POSTGRES_* (DATABASE_URL_POOLED with the pooler on, DATABASE_PUBLIC_URL when public), as Railway's Postgres provides them. */
export function postgresVariables(e: PostgresEndpoint): Record<string, string> {
  const v: Record<string, string> = {
    DATABASE_URL: postgresUrl(e, e.privateHost, e.privatePort),
    PGHOST: e.privateHost,
    PGPORT: String(e.privatePort),
    PGUSER: e.username,
    PGPASSWORD: e.password,
    PGDATABASE: e.database,
    POSTGRES_DB: e.database,
    POSTGRES_USER: e.username,
    POSTGRES_PASSWORD: e.password,
  };
  if (e.pooledPort) v.DATABASE_URL_POOLED = postgresUrl(e, e.privateHost, e.pooledPort);
  if (e.publicHost && e.publicPort) v.DATABASE_PUBLIC_URL = postgresUrl(e, e.publicHost, e.publicPort);
  return v;
}
