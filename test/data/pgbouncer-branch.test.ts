import { describe, expect, it } from 'vitest';
import { pgBasebackupArgv, pgBasebackupOf, scramSecret } from '../../src/data/postgres/branch.js';
import {
  authFileLine,
  findPgbouncer,
  hasPreparedStatements,
  parsePgbouncerVersion,
  pgbouncerArgv,
  pgbouncerIni,
  preparedStatementsHint,
} from '../../src/data/postgres/pgbouncer.js';
import { postgresVariables } from '../../src/data/postgres/variables.js';

describe("PgBouncer's version, command line, configuration and auth file", () => {
  it('reads the version from `pgbouncer --version` and knows which have max_prepared_statements', () => {
    const v118 = parsePgbouncerVersion('PgBouncer 1.18.0\nlibevent 2.1.12-stable\n');
    expect(v118).toEqual({ major: 1, minor: 18, patch: 0 });
    expect(parsePgbouncerVersion('PgBouncer 1.21')).toEqual({ major: 1, minor: 21, patch: 0 });
    expect(parsePgbouncerVersion('pgbench (PostgreSQL) 15')).toBeNull();
    expect(hasPreparedStatements({ major: 1, minor: 18, patch: 0 })).toBe(false);
    expect(hasPreparedStatements({ major: 1, minor: 20, patch: 9 })).toBe(false);
    expect(hasPreparedStatements({ major: 1, minor: 21, patch: 0 })).toBe(true);
    expect(hasPreparedStatements({ major: 2, minor: 0, patch: 0 })).toBe(true);
  });

  it('says in one sentence what an older PgBouncer lacks, and nothing for a newer one', () => {
    expect(preparedStatementsHint({ major: 1, minor: 18, patch: 0 })).toBe(
      "This server's PgBouncer 1.18.0 lacks max_prepared_statements (PgBouncer 1.21 or newer has it), so named prepared statements (e.g. node-postgres' query({ name }), JDBC's after five runs) fail through the pooler; use unnamed ones there, DATABASE_URL for the rest, or install PgBouncer 1.21+ from apt.postgresql.org.",
    );
    expect(preparedStatementsHint({ major: 1, minor: 22, patch: 1 })).toBeNull();
  });

  it('runs in the foreground with its ini file', () => {
    expect(pgbouncerArgv('/usr/sbin/pgbouncer', '/v/pooler/pgbouncer.ini')).toEqual([
      '/usr/sbin/pgbouncer',
      '/v/pooler/pgbouncer.ini',
    ]);
  });

  it('renders transaction pooling at the private address, SCRAM from the auth file, no socket', () => {
    const base = {
      host: '127.77.0.3',
      port: 6432,
      serverPort: 5432,
      authFile: '/data/volumes/s/e/pooler/userlist.txt',
    };
    const old = pgbouncerIni({ ...base, maxPreparedStatements: null });
    expect(old.split('\n')).toEqual([
      '; Written by Berth (berth db pooler on); rewritten at every start of the pooler.',
      '[databases]',
      '* = host=127.77.0.3 port=5432',
      '',
      '[pgbouncer]',
      'listen_addr = 127.77.0.3',
      'listen_port = 6432',
      'unix_socket_dir =',
      'auth_type = scram-sha-256',
      'auth_file = /data/volumes/s/e/pooler/userlist.txt',
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
      '',
    ]);
    const current = pgbouncerIni({ ...base, maxPreparedStatements: 200 });
    expect(current).toBe(old.replace(/\n$/, '\nmax_prepared_statements = 200\n'));
    expect(() => pgbouncerIni({ ...base, authFile: '/v/a b"', maxPreparedStatements: null })).toThrow(
      /characters PgBouncer's ini cannot hold/,
    );
  });

  it('quotes the auth file entry the way PgBouncer reads it', () => {
    expect(authFileLine('postgres', 'SCRAM-SHA-256$4096:c2FsdA==$a:b')).toBe(
      '"postgres" "SCRAM-SHA-256$4096:c2FsdA==$a:b"\n',
    );
    expect(authFileLine('we"ird', 'x')).toBe('"we""ird" "x"\n');
  });

  it('finds the host binary only where it answers with a version', () => {
    expect(findPgbouncer(['/nonexistent/pgbouncer'])).toBeNull();
    expect(findPgbouncer(['/bin/true'])).toBeNull();
  });

  it('provides DATABASE_URL_POOLED at the private host when the pooler is on', () => {
    const e = {
      username: 'postgres',
      password: 'pw',
      database: 'railway',
      privateHost: 'postgres.production.shop.internal',
      privatePort: 5432,
    };
    expect(postgresVariables(e).DATABASE_URL_POOLED).toBeUndefined();
    expect(postgresVariables({ ...e, pooledPort: 6432 }).DATABASE_URL_POOLED).toBe(
      'postgresql://postgres:pw@postgres.production.shop.internal:6432/railway',
    );
  });
});

describe('a branch: pg_basebackup argv and the SCRAM secret of its new password', () => {
  it('copies with a fast checkpoint, WAL streamed alongside, no per-file fsync, no manifest', () => {
    const bin = pgBasebackupOf({ bin: '/usr/lib/postgresql/15/bin' });
    expect(
      pgBasebackupArgv(bin, {
        host: '127.77.0.3',
        port: 5432,
        username: 'postgres',
        dataDir: '/data/volumes/s/e2/pgdata',
      }),
    ).toEqual([
      '/usr/lib/postgresql/15/bin/pg_basebackup',
      '--pgdata',
      '/data/volumes/s/e2/pgdata',
      '--host',
      '127.77.0.3',
      '--port',
      '5432',
      '--username',
      'postgres',
      '--no-password',
      '--checkpoint=fast',
      '--wal-method=stream',
      '--no-sync',
      '--no-manifest',
      '--label=berth branch',
    ]);
  });

  it('computes the secret PostgreSQL 15 itself stored for the same password and salt', () => {
    // rolpassword of a role created by initdb --auth=scram-sha-256 with the password "secretpw".
    const stored =
      'SCRAM-SHA-256$4096:oHFc0fw3ik5HnMYmz6lWYQ==$SlfpIlW7/LI081CjBhhC4Z6TF05vXteytDRRQdjkKls=:3bvKH8R+UeVmn68mLA3KeY4ROgmRg+WTkd6junYr0mc=';
    expect(scramSecret('secretpw', Buffer.from('oHFc0fw3ik5HnMYmz6lWYQ==', 'base64'))).toBe(stored);
    expect(scramSecret('secretpw')).not.toBe(stored); // a fresh salt each time
  });
});
