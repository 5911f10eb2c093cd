/**
 * PgBouncer in front of a data service's PostgreSQL (`berth db pooler on`): where the host's binary is, what
 * its version can do, and its command line, configuration and auth file, rendered by pure functions.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { UserError } from '../../core/errors.js';

/** Where the pooler listens: the service's private address, PgBouncer's customary port. */
export const POOLER_PORT = 6432;

/** PgBouncer tracks protocol-level prepared statements in transaction mode from this version on. */
export const PREPARED_STATEMENTS_SINCE = { major: 1, minor: 21 } as const;

/** How many prepared statements per server connection PgBouncer keeps when it can (its docs suggest 100-200). */
export const MAX_PREPARED_STATEMENTS = 200;

export const PGBOUNCER_PACKAGE_HINT =
  'PgBouncer is not installed on the Berth server; install the Debian package pgbouncer (apt-get install pgbouncer) and try again.';

export interface PgbouncerVersion {
  major: number;
  minor: number;
  patch: number;
}

export interface PgbouncerBinary {
  path: string;
  version: PgbouncerVersion;
}

/** `PgBouncer 1.18.0` (the first line of `pgbouncer --version`) → 1.18.0; null when it is not that. */
export function parsePgbouncerVersion(text: string): PgbouncerVersion | null {
  const m = /PgBouncer (\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return null;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0) };
}

export function formatVersion(v: PgbouncerVersion): string {
  return `${v.major}.${v.minor}.${v.patch}`;
}

/** Whether this PgBouncer has `max_prepared_statements` (prepared statements in transaction mode). */
export function hasPreparedStatements(v: PgbouncerVersion): boolean {
  const since = PREPARED_STATEMENTS_SINCE;
  return v.major > since.major || (v.major === since.major && v.minor >= since.minor);
}

/** The one sentence `berth db pooler on` adds when the host's PgBouncer cannot keep named prepared statements. */
export function preparedStatementsHint(v: PgbouncerVersion): string | null {
  if (hasPreparedStatements(v)) return null;
  const since = `${PREPARED_STATEMENTS_SINCE.major}.${PREPARED_STATEMENTS_SINCE.minor}`;
  return `This server's PgBouncer ${formatVersion(v)} lacks max_prepared_statements (PgBouncer ${since} or newer has it), so named prepared statements (e.g. node-postgres' query({ name }), JDBC's after five runs) fail through the pooler; use unnamed ones there, DATABASE_URL for the rest, or install PgBouncer ${since}+ from apt.postgresql.org.`;
}

const CANDIDATES = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer'];

/** The host's pgbouncer and its version (BERTH_PGBOUNCER overrides where it is), or null. */
export function findPgbouncer(
  candidates: readonly string[] = process.env.BERTH_PGBOUNCER ? [process.env.BERTH_PGBOUNCER] : CANDIDATES,
): PgbouncerBinary | null {
  for (const p of candidates) {
    try {
      fs.accessSync(p, fs.constants.X_OK);
    } catch {
      continue;
    }
    const res = spawnSync(p, ['--version'], { encoding: 'utf8', timeout: 5000 });
    const version = parsePgbouncerVersion(`${res.stdout ?? ''}${res.stderr ?? ''}`);
    if (version) return { path: p, version };
  }
  return null;
}

export function requirePgbouncer(): PgbouncerBinary {
  const found = findPgbouncer();
  if (!found) throw new UserError(PGBOUNCER_PACKAGE_HINT, { status: 503, code: 'missing_binaries' });
  return found;
}

/** PgBouncer in the foreground with its configuration file (no -d: the supervisor follows the process). */
export function pgbouncerArgv(bin: string, iniFile: string): string[] {
  return [bin, iniFile];
}

export interface PoolerConfig {
  /** The service's private address: the pooler's and the database's. */
  host: string;
  port: number;
  serverPort: number;
  authFile: string;
  /** Set when the host's PgBouncer has max_prepared_statements. */
  maxPreparedStatements: number | null;
}

/** The value of an ini setting or connection string: quotes and backslashes cannot reach PgBouncer's parser. */
function plain(value: string, what: string): string {
  if (!/^[A-Za-z0-9_./:-]+$/.test(value))
    throw new Error(`${what} "${value}" has characters PgBouncer's ini cannot hold`);
  return value;
}

/**
 * pgbouncer.ini: transaction pooling of every database of the cluster (the `*` entry), clients authenticated
 * with scram-sha-256 against the auth file, which holds the role's SCRAM secret as PostgreSQL stores it; with
 * that secret PgBouncer logs in to the server on the client's behalf (SCRAM pass-through), so no password is
 * stored in clear. No Unix socket (the sandbox shares none), no pid file, logs on stderr (the engine log).
 * max_client_conn 400: with a server pool of 25 it stays within the 1024 descriptors a default soft limit gives.
 * server_idle_timeout 60 (PgBouncer's is 600): idle server connections count as clients to scale to zero, so a
 * sleeping database behind the pooler sleeps a minute after its idle period instead of ten.
 */
export function pgbouncerIni(c: PoolerConfig): string {
  const lines = [
    '; Written by Berth (berth db pooler on); rewritten at every start of the pooler.',
    '[databases]',
    `* = host=${plain(c.host, 'host')} port=${c.serverPort}`,
    '',
    '[pgbouncer]',
    `listen_addr = ${plain(c.host, 'host')}`,
    `listen_port = ${c.port}`,
    'unix_socket_dir =',
    'auth_type = scram-sha-256',
    `auth_file = ${plain(c.authFile, 'auth file')}`,
    'pool_mode = transaction',
    'max_client_conn = 400',
    'default_pool_size = 20',
    'min_pool_size = 0',
    'reserve_pool_size = 5',
    'server_reset_query =',
    'ignore_startup_parameters = extra_float_digits,search_path',
    'query_wait_timeout = 120',
    'server_login_retry = 1',
    'server_idle_timeout = 60',
    'log_connections = 0',
    'log_disconnections = 0',
    'stats_period = 3600',
  ];
  if (c.maxPreparedStatements !== null) lines.push(`max_prepared_statements = ${c.maxPreparedStatements}`);
  lines.push('');
  return lines.join('\n');
}

/** One line of the auth file: the role and its SCRAM secret, each double-quoted (a quote doubled). */
export function authFileLine(role: string, secret: string): string {
  const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
  return `${q(role)} ${q(secret)}\n`;
}
