/**
 * The argv and environment of PostgreSQL's client tools for backups and restores, as pure functions (tested
 * by exact arrays). Passwords go through a passfile named in the child's environment, never through argv.
 */
import path from 'node:path';

/** How to reach one database as one role. */
export interface PgConnection {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** Where pg_dump, pg_restore and psql are (a `/usr/lib/postgresql/N/bin`). */
export interface PgTools {
  binDir: string;
}

/** libpq quoting of a conninfo value: single quotes, with ' and \ escaped. */
function quoteValue(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * The connection as one conninfo string. Every value is quoted, so a database name such as
 * `x host=elsewhere` stays a name and cannot redirect the tool (a bare `--dbname` would parse it).
 */
export function conninfo(c: PgConnection): string {
  return [
    `host=${quoteValue(c.host)}`,
    `port=${quoteValue(String(c.port))}`,
    `user=${quoteValue(c.user)}`,
    `dbname=${quoteValue(c.database)}`,
  ].join(' ');
}

/** One .pgpass line matching any connection (the file serves one run of one tool); ':' and '\' escaped. */
export function passfileLine(password: string): string {
  return `*:*:*:*:${password.replace(/\\/g, '\\\\').replace(/:/g, '\\:')}\n`;
}

/**
 * The child's whole environment (passfile null: a tool that connects nowhere): nothing of the daemon's (no stray PGPASSWORD or PGSERVICE), the passfile,
 * a connect timeout so an unreachable host fails instead of hanging, and the C locale for messages.
 */
export function pgToolEnv(passfile: string | null): Record<string, string> {
  return {
    PATH: '/usr/bin:/bin',
    ...(passfile ? { PGPASSFILE: passfile } : {}),
    PGCONNECT_TIMEOUT: '10',
    LC_ALL: 'C',
  };
}

/** `pg_dump -Fc` of the whole database to stdout; `--no-password` fails rather than prompting. */
export function pgDumpArgv(tools: PgTools, c: PgConnection): string[] {
  return [path.join(tools.binDir, 'pg_dump'), '--format=custom', '--no-password', `--dbname=${conninfo(c)}`];
}

/** Lists an archive's table of contents: from `file`, or from stdin when absent. Fails on an unreadable one. */
export function pgRestoreListArgv(tools: PgTools, file?: string): string[] {
  return [path.join(tools.binDir, 'pg_restore'), '--list', ...(file ? [file] : [])];
}

/**
 * Restores an archive file into a database in one transaction that any error rolls back, so a failed
 * restore leaves the database as it was. Objects are owned by the connecting role: the new database's
 * roles are not the source's.
 */
export function pgRestoreArgv(tools: PgTools, c: PgConnection, file: string): string[] {
  return [
    path.join(tools.binDir, 'pg_restore'),
    '--single-transaction',
    '--exit-on-error',
    '--no-owner',
    '--no-privileges',
    '--no-password',
    `--dbname=${conninfo(c)}`,
    file,
  ];
}

/**
 * How many objects a database has outside PostgreSQL's own schemas: relations (tables, views, sequences,
 * indexes) plus schemas other than public. A restore goes only into a database where this is 0.
 */
export const USER_OBJECTS_QUERY =
  "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)') + (SELECT count(*) FROM pg_namespace WHERE nspname NOT IN ('public', 'pg_catalog', 'information_schema') AND nspname !~ '^pg_')";

/** Runs one query and prints the bare result; stops on the first error. */
export function psqlQueryArgv(tools: PgTools, c: PgConnection, query: string): string[] {
  return [
    path.join(tools.binDir, 'psql'),
    '--no-psqlrc',
    '--no-password',
    '--tuples-only',
    '--no-align',
    '--set=ON_ERROR_STOP=1',
    `--dbname=${conninfo(c)}`,
    `--command=${query}`,
  ];
}
