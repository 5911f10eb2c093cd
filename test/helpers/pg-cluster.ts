import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { PgConnection } from '../../src/backup/pg-argv.js';
import { freePort } from '../../src/lib/net.js';
import { waitFor } from '../../src/lib/wait.js';
import { waitGroupGone } from '../../src/runtime/stop-group.js';
import { killGroup, makeTmpDir } from './tmp.js';

/**
 * A real PostgreSQL cluster for a test: initdb + postgres from the host's Debian packages in a temp dir,
 * run as the `postgres` OS user (the tests run as root, which postgres refuses) through setpriv, on a free
 * loopback port with scram-sha-256. Stopped by its pid and removed by `stop()`.
 */
export const PG_BIN = '/usr/lib/postgresql/15/bin';

export interface PgCluster {
  /** The superuser's connection to the `postgres` database. */
  admin: PgConnection;
  pid: number;
  dir: string;
  /** A connection to another database of this cluster, created empty by createDatabase. */
  connection(database: string): PgConnection;
  createDatabase(name: string): Promise<PgConnection>;
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(
    database: string,
    sql: string,
    params?: unknown[],
  ): Promise<T[]>;
  stop(): Promise<void>;
}

function osUser(name: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

function asUser(u: { uid: number; gid: number }, argv: string[]): string[] {
  return ['setpriv', `--reuid=${u.uid}`, `--regid=${u.gid}`, '--clear-groups', '--', ...argv];
}

export async function startCluster(
  opts: {
    password?: string;
    /** More `-c name=value` settings; `{dir}` in a value is the cluster's temp dir (owned by postgres). */
    settings?: string[];
  } = {},
): Promise<PgCluster> {
  const user = osUser('postgres');
  const tmp = makeTmpDir('berth-pg-');
  const password = opts.password ?? 'Pw:with\\odd\'chars "and" spaces';
  fs.chownSync(tmp.dir, user.uid, user.gid);
  const data = path.join(tmp.dir, 'data');
  const pwfile = path.join(tmp.dir, 'pw');
  fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  fs.chownSync(pwfile, user.uid, user.gid);
  const env = { PATH: '/usr/bin:/bin', LC_ALL: 'C' };
  const initdb = asUser(user, [
    path.join(PG_BIN, 'initdb'),
    '--pgdata',
    data,
    '--username=berth',
    `--pwfile=${pwfile}`,
    '--auth=scram-sha-256',
    '--encoding=UTF8',
    '--locale=C',
    '--no-sync',
  ]);
  execFileSync(initdb[0], initdb.slice(1), { env, stdio: 'pipe' });
  fs.rmSync(pwfile);
  const port = await freePort();
  const log = fs.openSync(path.join(tmp.dir, 'postgres.log'), 'a');
  const argv = asUser(user, [
    path.join(PG_BIN, 'postgres'),
    '-D',
    data,
    '-p',
    String(port),
    '-k',
    tmp.dir,
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'fsync=off',
    ...(opts.settings ?? []).flatMap((kv) => ['-c', kv.replaceAll('{dir}', tmp.dir)]),
  ]);
  const child = spawn(argv[0], argv.slice(1), { env, detached: true, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const pid = child.pid as number;
  child.unref();
  const connection = (database: string): PgConnection => ({
    host: '127.0.0.1',
    port,
    user: 'berth',
    password,
    database,
  });
  const query = async <T extends pg.QueryResultRow>(database: string, sql: string, params?: unknown[]) => {
    const c = connection(database);
    const client = new pg.Client({ ...c });
    await client.connect();
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end();
    }
  };
  const stop = async () => {
    killGroup(pid, 'SIGINT'); // fast shutdown
    if (!(await waitGroupGone(pid, 15_000))) {
      killGroup(pid, 'SIGKILL');
      await waitGroupGone(pid, 5_000);
    }
    tmp.cleanup();
  };
  try {
    await waitFor(
      'the test PostgreSQL to accept connections',
      () => query('postgres', 'SELECT 1').then(() => true),
      {
        timeoutMs: 30_000,
      },
    );
  } catch (err) {
    const logText = fs.readFileSync(path.join(tmp.dir, 'postgres.log'), 'utf8');
    await stop();
    throw new Error(`${(err as Error).message}\n${logText}`);
  }
  return {
    admin: connection('postgres'),
    pid,
    dir: tmp.dir,
    connection,
    createDatabase: async (name) => {
      await query('postgres', `CREATE DATABASE "${name}"`);
      return connection(name);
    },
    query,
    stop,
  };
}

/**
 * A cluster archiving its WAL with basic_archive into `<dir>/spool` (made 0700, the postgres user's), as
 * Berth's engines do; more settings after those.
 */
export async function startArchivingCluster(settings: string[] = []): Promise<PgCluster & { spool: string }> {
  const cluster = await startCluster({
    settings: [
      'archive_mode=on',
      'archive_library=basic_archive',
      'basic_archive.archive_directory={dir}/spool',
      ...settings,
    ],
  });
  const spool = path.join(cluster.dir, 'spool');
  fs.mkdirSync(spool, { mode: 0o700 });
  const owner = fs.statSync(cluster.dir);
  fs.chownSync(spool, owner.uid, owner.gid);
  return { ...cluster, spool };
}
