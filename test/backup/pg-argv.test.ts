import { describe, expect, it } from 'vitest';
import {
  conninfo,
  passfileLine,
  pgDumpArgv,
  pgRestoreArgv,
  pgRestoreListArgv,
  pgToolEnv,
  psqlQueryArgv,
  USER_OBJECTS_QUERY,
} from '../../src/backup/pg-argv.js';

const tools = { binDir: '/usr/lib/postgresql/15/bin' };
const conn = { host: 'pg.internal', port: 5433, user: 'app', password: 's3cret:\\x', database: 'shop' };
const INFO = "host='pg.internal' port='5433' user='app' dbname='shop'";

describe('argv of the PostgreSQL client tools', () => {
  it('pg_dump: custom format to stdout, never prompting, the connection as one quoted conninfo', () => {
    expect(pgDumpArgv(tools, conn)).toEqual([
      '/usr/lib/postgresql/15/bin/pg_dump',
      '--format=custom',
      '--no-password',
      `--dbname=${INFO}`,
    ]);
  });

  it('pg_restore --list: from stdin, or from a file', () => {
    expect(pgRestoreListArgv(tools)).toEqual(['/usr/lib/postgresql/15/bin/pg_restore', '--list']);
    expect(pgRestoreListArgv(tools, '/tmp/r/archive.dump')).toEqual([
      '/usr/lib/postgresql/15/bin/pg_restore',
      '--list',
      '/tmp/r/archive.dump',
    ]);
  });

  it('pg_restore: one transaction, stopping at the first error, objects owned by the restoring role', () => {
    expect(pgRestoreArgv(tools, conn, '/tmp/r/archive.dump')).toEqual([
      '/usr/lib/postgresql/15/bin/pg_restore',
      '--single-transaction',
      '--exit-on-error',
      '--no-owner',
      '--no-privileges',
      '--no-password',
      `--dbname=${INFO}`,
      '/tmp/r/archive.dump',
    ]);
  });

  it('psql: one query, bare output, no psqlrc, stopping on error', () => {
    expect(psqlQueryArgv(tools, conn, USER_OBJECTS_QUERY)).toEqual([
      '/usr/lib/postgresql/15/bin/psql',
      '--no-psqlrc',
      '--no-password',
      '--tuples-only',
      '--no-align',
      '--set=ON_ERROR_STOP=1',
      `--dbname=${INFO}`,
      `--command=${USER_OBJECTS_QUERY}`,
    ]);
  });

  it('never puts the password in argv', () => {
    for (const argv of [
      pgDumpArgv(tools, conn),
      pgRestoreArgv(tools, conn, 'f'),
      psqlQueryArgv(tools, conn, 'q'),
    ]) {
      expect(argv.join(' ')).not.toContain('s3cret');
    }
  });

  it('conninfo injection: a database or user name carrying its own conninfo stays one quoted value', () => {
    expect(conninfo({ ...conn, database: "x' host='evil", user: 'a b\\' })).toBe(
      "host='pg.internal' port='5433' user='a b\\\\' dbname='x\\' host=\\'evil'",
    );
  });

  it('passfile: one wildcard line with ":" and "\\" escaped', () => {
    expect(passfileLine('s3cret:\\x')).toBe('*:*:*:*:s3cret\\:\\\\x\n');
  });

  it('the environment: nothing of the daemon, the passfile, a connect timeout, the C locale', () => {
    expect(pgToolEnv('/tmp/p/pgpass')).toEqual({
      PATH: '/usr/bin:/bin',
      PGPASSFILE: '/tmp/p/pgpass',
      PGCONNECT_TIMEOUT: '10',
      LC_ALL: 'C',
    });
    expect(pgToolEnv(null)).toEqual({ PATH: '/usr/bin:/bin', PGCONNECT_TIMEOUT: '10', LC_ALL: 'C' });
  });
});
