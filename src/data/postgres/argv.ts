/** Command lines of PostgreSQL's programs, pure so tests assert the exact arrays (as edge/haproxy/plan.ts). */
import type { PostgresBinaries } from './binaries.js';

/** The port PostgreSQL listens on at the service's private address (Railway's PGPORT). */
export const POSTGRES_PORT = 5432;

/**
 * A new cluster: scram-sha-256 for every connection, the superuser's password from a file, UTF-8. `--no-sync`:
 * initdb's own fsync of each of its ~1000 files took seconds on a busy disk; one syncfs of the volume's file
 * system afterwards (syncArgv) makes the cluster as durable in a fraction of that.
 */
export function initdbArgv(
  pg: Pick<PostgresBinaries, 'initdb'>,
  o: { dataDir: string; username: string; passwordFile: string },
): string[] {
  return [
    pg.initdb,
    '--pgdata',
    o.dataDir,
    '--username',
    o.username,
    `--pwfile=${o.passwordFile}`,
    '--auth=scram-sha-256',
    '--encoding=UTF8',
    '--locale=C.UTF-8',
    '--no-instructions',
    '--no-sync',
  ];
}

/** coreutils' sync of the file system holding dir (syncfs(2)): everything initdb wrote reaches the disk. */
export function syncArgv(sync: string, dir: string): string[] {
  return [sync, '--file-system', dir];
}

/**
 * The server in the foreground. What Berth owns is on the command line, which outranks the configuration
 * files, so `ALTER SYSTEM` cannot move it: where it listens (the private address, and the public host when
 * the service is public), the port, and no Unix socket (the sandbox has no shared /var/run/postgresql;
 * every client, Berth's own included, connects over TCP with a password).
 */
export function postgresArgv(
  pg: Pick<PostgresBinaries, 'postgres'>,
  o: { dataDir: string; listen: readonly string[]; port: number; archiveDir?: string },
): string[] {
  return [
    pg.postgres,
    '-D',
    o.dataDir,
    '-p',
    String(o.port),
    '-c',
    `listen_addresses=${o.listen.join(',')}`,
    '-c',
    'unix_socket_directories=',
    ...(o.archiveDir ? walArchivingArgs(o.archiveDir) : []),
  ];
}

/**
 * Continuous WAL archiving for point-in-time restore: PostgreSQL's own basic_archive copies each finished WAL
 * file durably into the spool (a directory of the volume), which the daemon ships to the backup target. A
 * WAL file is recycled only once it is in the spool, so a daemon that is down loses nothing.
 */
export function walArchivingArgs(archiveDir: string): string[] {
  return [
    '-c',
    'archive_mode=on',
    '-c',
    'archive_library=basic_archive',
    '-c',
    `basic_archive.archive_directory=${archiveDir}`,
  ];
}

/**
 * Berth's defaults for settings a user may change (`berth db config set`), written once to postgresql.conf
 * (which ALTER SYSTEM outranks): archive_timeout bounds how far the archive lags behind (Railway's 60 s);
 * without WAL recycling a file closed early by the timeout is zeros after its last record, so it
 * compresses to about what was written instead of 16 MB of an old file's bytes.
 */
export const POSTGRES_CONF_DEFAULTS: readonly (readonly [string, string])[] = [
  ['archive_timeout', '60s'],
  ['wal_recycle', 'off'],
];

/** postgresql.conf with Berth's defaults appended for those it does not set yet; null when nothing is missing. */
export function withConfDefaults(conf: string): string | null {
  const missing = POSTGRES_CONF_DEFAULTS.filter(([k]) => !new RegExp(`^\\s*${k}\\s*=`, 'm').test(conf));
  if (missing.length === 0) return null;
  const lines = missing.map(([k, v]) => `${k} = '${v}'`);
  return `${conf}${conf.endsWith('\n') || conf === '' ? '' : '\n'}# Berth's defaults (berth db config set overrides them)\n${lines.join('\n')}\n`;
}

/** Whether the server accepts connections yet (exit 0) — no credentials needed. */
export function pgIsreadyArgv(
  pg: Pick<PostgresBinaries, 'pgIsready'>,
  o: { host: string; port: number },
): string[] {
  return [pg.pgIsready, '--quiet', '--host', o.host, '--port', String(o.port), '--timeout', '1'];
}

export interface PsqlTarget {
  host: string;
  port: number;
  username: string;
  database: string;
}

/**
 * psql reading SQL from stdin, unaligned tuples only, stopping at the first error. Values go in as psql
 * variables (`-v name=value`, used as :'name' in the SQL), so nothing a user typed is spliced into SQL text.
 * The password is passed in PGPASSWORD, never on the command line.
 */
export function psqlArgv(
  pg: Pick<PostgresBinaries, 'psql'>,
  t: PsqlTarget,
  variables: Record<string, string> = {},
): string[] {
  const vars = Object.entries(variables).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
  return [
    pg.psql,
    '--no-psqlrc',
    '--no-align',
    '--tuples-only',
    '--quiet',
    '--set',
    'ON_ERROR_STOP=1',
    ...vars,
    '--host',
    t.host,
    '--port',
    String(t.port),
    '--username',
    t.username,
    '--dbname',
    t.database,
    '--file',
    '-',
  ];
}

/**
 * pg_hba.conf of a Berth cluster: a password (scram-sha-256) for every connection, from anywhere it listens;
 * replication connections too (`all` does not match them), which pg_basebackup of `berth db branch` opens.
 */
export const PG_HBA = [
  '# Written by Berth: every connection authenticates with scram-sha-256.',
  'local all all scram-sha-256',
  'host all all 0.0.0.0/0 scram-sha-256',
  'host all all ::/0 scram-sha-256',
  'host replication all 0.0.0.0/0 scram-sha-256',
  'host replication all ::/0 scram-sha-256',
  '',
].join('\n');

export { LOCK_CONFLICT_EXIT, singletonArgv } from '../singleton-argv.js';
