import { describe, expect, it } from 'vitest';
import { generatePassword } from '../../src/data/password.js';
import {
  initdbArgv,
  PG_HBA,
  pgIsreadyArgv,
  postgresArgv,
  psqlArgv,
  singletonArgv,
  syncArgv,
  withConfDefaults,
} from '../../src/data/postgres/argv.js';
import { findPostgres } from '../../src/data/postgres/binaries.js';
import { postgresVariables } from '../../src/data/postgres/variables.js';
import { processArgv } from '../../src/runtime/process-argv.js';

const pg = {
  initdb: '/usr/lib/postgresql/15/bin/initdb',
  postgres: '/usr/lib/postgresql/15/bin/postgres',
  psql: '/usr/lib/postgresql/15/bin/psql',
  pgIsready: '/usr/lib/postgresql/15/bin/pg_isready',
};

/** postgres listening on 127.77.0.3:5432 only, no Unix socket: what every postgresArgv starts with. */
const LISTENING_ARGV = [
  '/usr/lib/postgresql/15/bin/postgres',
  '-D',
  '/v/pgdata',
  '-p',
  '5432',
  '-c',
  'listen_addresses=127.77.0.3',
  '-c',
  'unix_socket_directories=',
];

describe('PostgreSQL command lines', () => {
  it("postgres with WAL archiving: basic_archive into the volume's spool, set on the command line (ALTER SYSTEM cannot undo it)", () => {
    expect(
      postgresArgv(pg, {
        dataDir: '/v/pgdata',
        listen: ['127.77.0.3'],
        port: 5432,
        archiveDir: '/v/wal-spool',
      }),
    ).toEqual([
      ...LISTENING_ARGV,
      '-c',
      'archive_mode=on',
      '-c',
      'archive_library=basic_archive',
      '-c',
      'basic_archive.archive_directory=/v/wal-spool',
    ]);
  });

  it("postgresql.conf gets Berth's archiving defaults once, never over a line already there", () => {
    const initdbs = '#archive_timeout = 0\t\t# force a WAL file switch\nmax_connections = 100\n';
    expect(withConfDefaults(initdbs)).toBe(
      `${initdbs}# Berth's defaults (berth db config set overrides them)\narchive_timeout = '60s'\nwal_recycle = 'off'\n`,
    );
    expect(withConfDefaults(withConfDefaults(initdbs) as string)).toBe(null);
    expect(withConfDefaults("archive_timeout = '5s'\n")).toBe(
      "archive_timeout = '5s'\n# Berth's defaults (berth db config set overrides them)\nwal_recycle = 'off'\n",
    );
  });

  it('initdb: scram-sha-256 everywhere, the password from a file, UTF-8', () => {
    expect(
      initdbArgv(pg, {
        dataDir: '/data/volumes/s/e/pgdata',
        username: 'postgres',
        passwordFile: '/data/volumes/s/e/.pw',
      }),
    ).toEqual([
      '/usr/lib/postgresql/15/bin/initdb',
      '--pgdata',
      '/data/volumes/s/e/pgdata',
      '--username',
      'postgres',
      '--pwfile=/data/volumes/s/e/.pw',
      '--auth=scram-sha-256',
      '--encoding=UTF8',
      '--locale=C.UTF-8',
      '--no-instructions',
      '--no-sync',
    ]);
    expect(syncArgv('/usr/bin/sync', '/data/volumes/s/e/pgdata')).toEqual([
      '/usr/bin/sync',
      '--file-system',
      '/data/volumes/s/e/pgdata',
    ]);
  });

  it('postgres: listens where Berth says, on the command line (which outranks ALTER SYSTEM), no Unix socket', () => {
    expect(postgresArgv(pg, { dataDir: '/v/pgdata', listen: ['127.77.0.3'], port: 5432 })).toEqual(
      LISTENING_ARGV,
    );
    expect(postgresArgv(pg, { dataDir: '/v/pgdata', listen: ['127.77.0.3', '0.0.0.0'], port: 5432 })[6]).toBe(
      'listen_addresses=127.77.0.3,0.0.0.0',
    );
  });

  it('pg_isready and psql: values as psql variables, never spliced into SQL; no password on the command line', () => {
    expect(pgIsreadyArgv(pg, { host: '127.77.0.3', port: 5432 })).toEqual([
      '/usr/lib/postgresql/15/bin/pg_isready',
      '--quiet',
      '--host',
      '127.77.0.3',
      '--port',
      '5432',
      '--timeout',
      '1',
    ]);
    expect(
      psqlArgv(
        pg,
        { host: '127.77.0.3', port: 5432, username: 'postgres', database: 'postgres' },
        { db: "x'; DROP" },
      ),
    ).toEqual([
      '/usr/lib/postgresql/15/bin/psql',
      '--no-psqlrc',
      '--no-align',
      '--tuples-only',
      '--quiet',
      '--set',
      'ON_ERROR_STOP=1',
      '--set',
      "db=x'; DROP",
      '--host',
      '127.77.0.3',
      '--port',
      '5432',
      '--username',
      'postgres',
      '--dbname',
      'postgres',
      '--file',
      '-',
    ]);
  });

  it('runs the engine in the service sandbox as its own uid, the volume its only writable path', () => {
    const argv = processArgv({
      program: {
        argv: postgresArgv(pg, { dataDir: '/d/volumes/s/e/pgdata', listen: ['127.77.0.3'], port: 5432 }),
      },
      cwd: '/d/volumes/s/e',
      prlimit: null,
      sandbox: {
        host: { bwrap: '/usr/bin/bwrap', setpriv: '/usr/bin/setpriv', hidden: ['/d'] },
        job: {
          user: { uid: 2_000_007, gid: 2_000_007, root: '/d/sandbox/2000007' },
          writable: ['/d/volumes/s/e'],
          readOnly: [],
          dieWithParent: false,
        },
      },
    });
    expect(argv).toEqual([
      '/usr/bin/bwrap',
      '--unshare-pid',
      '--unshare-ipc',
      '--ro-bind',
      '/',
      '/',
      '--proc',
      '/proc',
      '--dev',
      '/dev',
      '--tmpfs',
      '/d',
      '--perms',
      '1777',
      '--size',
      String(256 * 1024 * 1024),
      '--tmpfs',
      '/tmp',
      '--dir',
      '/d/sandbox',
      '--bind',
      '/d/sandbox/2000007',
      '/d/sandbox/2000007',
      '--dir',
      '/d/volumes',
      '--dir',
      '/d/volumes/s',
      '--bind',
      '/d/volumes/s/e',
      '/d/volumes/s/e',
      '--chdir',
      '/d/volumes/s/e',
      '--',
      '/usr/bin/setpriv',
      '--reuid',
      '2000007',
      '--regid',
      '2000007',
      '--clear-groups',
      '--inh-caps=-all',
      '--bounding-set=-all',
      '--no-new-privs',
      '--',
      '/usr/lib/postgresql/15/bin/postgres',
      '-D',
      '/d/volumes/s/e/pgdata',
      '-p',
      '5432',
      '-c',
      'listen_addresses=127.77.0.3',
      '-c',
      'unix_socket_directories=',
    ]);
  });

  it('runs the engine under an exclusive flock of its volume, so a second one over the same data fails at once', () => {
    expect(singletonArgv('/usr/bin/flock', '/v/engine.lock', ['/pg/postgres', '-D', '/v/pgdata'])).toEqual([
      '/usr/bin/flock',
      '--nonblock',
      '--conflict-exit-code',
      '73',
      '/v/engine.lock',
      '/pg/postgres',
      '-D',
      '/v/pgdata',
    ]);
  });

  it('pg_hba.conf asks every connection for a scram-sha-256 password, replication ones (branches) too', () => {
    const rules = PG_HBA.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(rules).toEqual([
      'local all all scram-sha-256',
      'host all all 0.0.0.0/0 scram-sha-256',
      'host all all ::/0 scram-sha-256',
      'host replication all 0.0.0.0/0 scram-sha-256',
      'host replication all ::/0 scram-sha-256',
    ]);
  });
});

describe("a Postgres service's provided variables", () => {
  const endpoint = {
    username: 'postgres',
    password: 'p@ss/word',
    database: 'railway',
    privateHost: 'postgres.production.shop.internal',
    privatePort: 5432,
  };

  it("are Railway's names, the password escaped in URLs", () => {
    expect(postgresVariables(endpoint)).toEqual({
      DATABASE_URL: 'postgresql://postgres:p%40ss%2Fword@postgres.production.shop.internal:5432/railway',
      PGHOST: 'postgres.production.shop.internal',
      PGPORT: '5432',
      PGUSER: 'postgres',
      PGPASSWORD: 'p@ss/word',
      PGDATABASE: 'railway',
      POSTGRES_DB: 'railway',
      POSTGRES_USER: 'postgres',
      POSTGRES_PASSWORD: 'p@ss/word',
    });
  });

  it('add DATABASE_PUBLIC_URL only when the service is public', () => {
    expect(
      postgresVariables({ ...endpoint, publicHost: 'db.example.com', publicPort: null }),
    ).not.toHaveProperty('DATABASE_PUBLIC_URL');
    expect(
      postgresVariables({ ...endpoint, publicHost: 'db.example.com', publicPort: 15432 }).DATABASE_PUBLIC_URL,
    ).toBe('postgresql://postgres:p%40ss%2Fword@db.example.com:15432/railway');
  });
});

describe('binaries and passwords', () => {
  it("finds the host's newest PostgreSQL, and says nothing is there when the package is missing", () => {
    expect(findPostgres('/usr/lib/postgresql')).toMatchObject({
      version: '15',
      postgres: '/usr/lib/postgresql/15/bin/postgres',
      initdb: '/usr/lib/postgresql/15/bin/initdb',
    });
    expect(findPostgres('/nonexistent/postgresql')).toBeNull();
  });

  it('generates 32 letters and digits, different each time', () => {
    const a = generatePassword();
    expect(a).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(generatePassword()).not.toBe(a);
  });
});
