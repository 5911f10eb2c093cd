import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness, CLI, uniqueProject } from '../helpers/berth.js';
import { needs } from '../helpers/optional-tools.js';

/** The process ids under pid (its children, theirs, …), from /proc. */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift() as number;
    let children: number[] = [];
    try {
      for (const task of fs.readdirSync(`/proc/${p}/task`)) {
        const text = fs.readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim();
        if (text) children = children.concat(text.split(/\s+/).map(Number));
      }
    } catch {
      /* gone */
    }
    out.push(...children);
    queue.push(...children);
  }
  return out;
}

function cmdline(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * Managed PostgreSQL (issue 16, provisioning): `berth add --database postgres` runs the host's PostgreSQL as a
 * supervised data service; an app deployed with DATABASE_URL=${{Postgres.DATABASE_URL}} keeps its data there
 * through database restarts, daemon restarts, a kill -9 of the daemon and a crash of postgres itself.
 */
const withoutPostgres = needs('postgresql', 'managed PostgreSQL');
describe.skipIf(withoutPostgres.skip)(withoutPostgres.title, () => {
  const berth = new BerthHarness();
  // /etc/hosts is shared by every daemon on the machine: a project name of its own.
  const project = uniqueProject('pg');
  const web = ['-p', project, '-s', 'web'];
  const db = ['-p', project, '-s', 'Postgres'];
  const host = () => berth.hostFor('web', project);
  let vars: Record<string, string> = {};

  /** The workload row of the database engine, as the daemon recorded it. */
  const engineRow = () => {
    const d = new Database(path.join(berth.dataDir, 'state.db'), { readonly: true, fileMustExist: true });
    try {
      const rows = d
        .prepare("SELECT id, state, restarts, handle_json FROM workloads WHERE owner_kind = 'data-service'")
        .all() as { id: string; state: string; restarts: number; handle_json: string | null }[];
      return rows;
    } finally {
      d.close();
    }
  };
  /** The postmaster's host pid: the postgres process under the workload's sandbox. */
  const postmaster = (): number => {
    const [row] = engineRow();
    const handle = JSON.parse(row.handle_json ?? 'null') as { pid: number } | null;
    if (!handle) throw new Error('the engine has no process handle');
    const found = descendants(handle.pid).find((p) => cmdline(p)[0]?.endsWith('/bin/postgres'));
    if (!found) throw new Error(`no postgres process under ${handle.pid}`);
    return found;
  };
  const items = async () => {
    const res = await berth.get(host(), '/items');
    expect(res.status, res.body).toBe(200);
    return (JSON.parse(res.body) as { name: string }[]).map((r) => r.name);
  };
  const insert = async (name: string) => {
    const res = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: berth.httpPort,
          path: `/items?name=${name}`,
          method: 'POST',
          headers: { host: host() },
        },
        (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(res).toBe(201);
  };
  const status = async () => {
    const r = await berth.cli(['status', '--json', '-p', project]);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as { services: { name: string; kind: string; state: string | null }[] };
    return s.services.find((x) => x.name === 'Postgres');
  };
  const running = () =>
    waitFor('the database to run', async () => (await status())?.state === 'running', {
      timeoutMs: 60_000,
      intervalMs: 200,
    });

  beforeAll(async () => {
    berth.hostsFile = '/etc/hosts';
    await berth.start();
    for (const cmd of [
      ['init', '--name', project],
      ['add', '--service', 'web', '-p', project],
    ]) {
      const r = await berth.cli(cmd);
      expect(r.code, r.stderr).toBe(0);
    }
  });

  afterAll(async () => {
    await berth.stop();
  });

  it('provisions a database with `berth add --database postgres` and shows it in status', async () => {
    const started = Date.now();
    const add = await berth.cli(['add', '--database', 'postgres', '-p', project]);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toContain(
      `Created Postgres (PostgreSQL 15) in project ${project}, environment production: running at postgres.production.${project}.internal:5432`,
    );
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(await status()).toMatchObject({ name: 'Postgres', kind: 'postgres', state: 'running' });
    const human = await berth.cli(['status', '-p', project]);
    expect(human.stdout).toMatch(/Postgres\s+postgres\s+running/);

    // Its cluster is in its own volume, owned by the service's own user (PostgreSQL refuses root).
    const [row] = engineRow();
    expect(row.state).toBe('running');
    const volumes = path.join(berth.dataDir, 'volumes');
    const [serviceDir] = fs.readdirSync(volumes);
    const [envDir] = fs.readdirSync(path.join(volumes, serviceDir));
    const pgdata = path.join(volumes, serviceDir, envDir, 'pgdata');
    expect(fs.existsSync(path.join(pgdata, 'PG_VERSION'))).toBe(true);
    const owner = fs.statSync(pgdata).uid;
    expect(owner).toBeGreaterThanOrEqual(2_000_000);
    expect(fs.statSync(`/proc/${postmaster()}`).uid).toBe(owner);
    expect(fs.readFileSync(path.join(pgdata, 'pg_hba.conf'), 'utf8')).toContain(
      'host all all 0.0.0.0/0 scram-sha-256',
    );
    // The running engine holds its volume's lock: a second one over the same data would fail at once.
    const lock = path.join(volumes, serviceDir, envDir, 'engine.lock');
    expect(spawnSync('flock', ['--nonblock', '--conflict-exit-code', '73', lock, 'true']).status).toBe(73);

    // A second one by the same name is refused, and nothing of the first is touched.
    const again = await berth.cli(['add', '--database', 'postgres', '-p', project]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(
      `Error: Service "Postgres" already exists in project "${project}"; pick another name with --service.\n`,
    );
  });

  it("provides Railway's variables, shown by `berth variables -s Postgres`", async () => {
    const r = await berth.cli(['variables', '--json', ...db]);
    expect(r.code, r.stderr).toBe(0);
    vars = JSON.parse(r.stdout) as Record<string, string>;
    const privateHost = `postgres.production.${project}.internal`;
    expect(vars).toMatchObject({
      PGHOST: privateHost,
      PGPORT: '5432',
      PGUSER: 'postgres',
      PGDATABASE: 'railway',
      POSTGRES_DB: 'railway',
      POSTGRES_USER: 'postgres',
    });
    expect(vars.PGPASSWORD).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(vars.POSTGRES_PASSWORD).toBe(vars.PGPASSWORD);
    expect(vars.DATABASE_URL).toBe(`postgresql://postgres:${vars.PGPASSWORD}@${privateHost}:5432/railway`);
    expect(vars.DATABASE_PUBLIC_URL).toBeUndefined();
    // The password is sealed at rest like variables.
    const d = new Database(path.join(berth.dataDir, 'state.db'), { readonly: true });
    const raw = (d.prepare('SELECT password FROM data_services').get() as { password: string }).password;
    d.close();
    expect(raw.startsWith('enc:v1:')).toBe(true);
    expect(raw).not.toContain(vars.PGPASSWORD);
  });

  it('runs an app that reads and writes through DATABASE_URL=${{Postgres.DATABASE_URL}}', async () => {
    const set = await berth.cli([
      'variables',
      'set',
      'DATABASE_URL=${{Postgres.DATABASE_URL}}',
      '--skip-deploys',
      ...web,
    ]);
    expect(set.code, set.stderr).toBe(0);
    const up = await berth.cli(['up', berth.app('pg-app', 'web'), ...web]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const env = JSON.parse((await berth.get(host(), '/env')).body) as { host: string };
    // The app reaches the database at its private name, straight on :5432 (no proxy in between).
    expect(env.host).toBe(`postgres.production.${project}.internal`);
    await insert('first');
    await insert('second');
    expect(await items()).toEqual(['first', 'second']);
  });

  it('refuses wrong credentials', async () => {
    const wrong = new pg.Client({
      connectionString: vars.DATABASE_URL.replace(vars.PGPASSWORD, 'not-the-password'),
    });
    const err = await wrong.connect().then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    await wrong.end().catch(() => undefined);
    expect(err?.code).toBe('28P01'); // invalid_password
    const right = new pg.Client({ connectionString: vars.DATABASE_URL });
    await right.connect();
    expect((await right.query('SELECT count(*)::int AS n FROM items')).rows[0].n).toBe(2);
    await right.end();
  });

  it('runs a query through `berth connect`, tunnelled over the API connection', async () => {
    const r = await berth.cli([
      'connect',
      'Postgres',
      '-p',
      project,
      '--',
      '-A',
      '-t',
      '-c',
      'SELECT name FROM items ORDER BY id',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('first\nsecond\n');
    // With a project token of the environment, as CI would.
    const token = (
      await berth.cli(['token', 'create', '-p', project, '-e', 'production', '--name', 'ci'])
    ).stdout.trim();
    const ci = await berth.cli(['connect', '--', '-A', '-t', '-c', 'SELECT count(*) FROM items'], {
      env: { BERTH_TOKEN: '', RAILWAY_TOKEN: token, BERTH_CLI_CONFIG: path.join(berth.dir, 'ci-cli.json') },
    });
    expect(ci.code, ci.stderr).toBe(0);
    expect(ci.stdout).toBe('2\n');
  });

  it('refuses a tunnel with a wrong token', async () => {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1',
        port: berth.apiPort,
        path: `/v1/projects/${project}/environments/production/services/Postgres/connect`,
        headers: { authorization: 'Bearer berth_pt_wrong', connection: 'Upgrade', upgrade: 'berth-tcp' },
      });
      req.on('upgrade', () => reject(new Error('the tunnel opened with a wrong token')));
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(answer.status).toBe(401);
    expect(answer.body).toContain('Missing or invalid API token');
    const cli = await berth.cli(['connect', 'Postgres', '-p', project, '--', '-c', 'SELECT 1'], {
      env: { BERTH_TOKEN: 'berth_pt_wrong' },
    });
    expect(cli.code).toBe(1);
    expect(cli.stdout).toBe('');
  });

  it("says in one sentence when this machine's psql is missing", async () => {
    const r = await berth.cli(['connect', 'Postgres', '-p', project], { env: { PATH: '/nonexistent' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'Error: psql is not installed on this machine; install the PostgreSQL client (Debian/Ubuntu: apt-get install postgresql-client, macOS: brew install libpq) and run berth connect again\n',
    );
  });

  it('shows its logs and refuses app-only verbs in one sentence', async () => {
    const logs = await berth.cli(['logs', ...db]);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toContain('database system is ready to accept connections');
    const up = await berth.cli(['up', berth.app('lifecycle', 'not-a-db'), ...db]);
    expect(up.code).toBe(1);
    expect(up.stderr).toBe(
      'Error: Postgres is a PostgreSQL database, which Berth runs from its spec rather than from source, so `berth up` does not apply; `berth restart -s Postgres` restarts it and `berth db config set` changes its settings.\n',
    );
    const redeploy = await berth.cli(['redeploy', ...db]);
    expect(redeploy.code).toBe(1);
    expect(redeploy.stderr).toContain('so `berth redeploy` does not apply');
  });

  it('keeps the data across `berth restart -s Postgres` (fast shutdown)', async () => {
    const before = postmaster();
    const r = await berth.cli(['restart', ...db]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Postgres restarted: fast shutdown');
    expect(postmaster()).not.toBe(before);
    expect((await berth.cli(['logs', ...db])).stdout).toContain('received fast shutdown request');
    await insert('after-restart');
    expect(await items()).toEqual(['first', 'second', 'after-restart']);
  });

  it('adopts the running database after a daemon restart and after kill -9 of the daemon', async () => {
    const pid = postmaster();
    await berth.stopDaemon();
    await berth.startDaemon();
    await running();
    expect(postmaster()).toBe(pid);
    await berth.killDaemon();
    // The database keeps serving while the daemon is gone.
    await insert('daemon-dead');
    await berth.startDaemon();
    await running();
    expect(postmaster()).toBe(pid);
    expect(engineRow()).toHaveLength(1);
    expect(await items()).toEqual(['first', 'second', 'after-restart', 'daemon-dead']);
  });

  it('restarts postgres by policy when the postmaster is killed (kill -9)', async () => {
    const pid = postmaster();
    const restarts = engineRow()[0].restarts;
    process.kill(pid, 'SIGKILL');
    await waitFor(
      'the database to be restarted',
      async () => {
        const row = engineRow()[0];
        return row.state === 'running' && row.restarts === restarts + 1 ? row : null;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    expect(postmaster()).not.toBe(pid);
    await waitFor('the app to read again', async () => (await berth.get(host(), '/items')).status === 200, {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    expect(await items()).toEqual(['first', 'second', 'after-restart', 'daemon-dead']);
    expect(berth.serverLog()).toContain('is healthy again');
    // Berth's own lines about it are in the database's log too.
    const logs = await berth.cli(['logs', ...db]);
    expect(logs.stdout).toMatch(
      /\[berth\] PostgreSQL of Postgres \(production\) exited .*; restarting it in 0\.5s \(restart \d+\)/,
    );
    expect(logs.stdout).toContain('[berth] PostgreSQL of Postgres (production) is healthy again');
  });

  const sql = async (query: string) => {
    const r = await berth.cli(['connect', 'Postgres', '-p', project, '--', '-A', '-t', '-c', query]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim();
  };

  it('changes settings with ALTER SYSTEM, reloading or restarting as each needs', async () => {
    // `berth logs -f` follows the database's log while it reloads.
    const follow = spawn(process.execPath, [CLI, 'logs', '-f', '-n', '1', ...db], {
      env: berth.env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let followed = '';
    follow.stdout.on('data', (c: Buffer) => {
      followed += c.toString('utf8');
    });
    await waitFor('the follower to print the last line', async () => followed.length > 0, {
      timeoutMs: 20_000,
      intervalMs: 50,
    });
    const reload = await berth.cli(['db', 'config', 'set', 'work_mem=64MB', '-p', project]);
    expect(reload.code, reload.stderr).toBe(0);
    expect(reload.stdout).toBe(
      'Set work_mem = 64MB on Postgres: reloaded the configuration (work_mem takes effect without a restart)\n',
    );
    expect(await sql('SHOW work_mem')).toBe('64MB');
    try {
      await waitFor(
        'the followed log to show the reload',
        async () => followed.includes('received SIGHUP, reloading configuration files'),
        { timeoutMs: 20_000, intervalMs: 100 },
      );
    } finally {
      follow.kill('SIGKILL');
    }

    const pid = postmaster();
    const restart = await berth.cli(['db', 'config', 'set', 'max_connections=50', '-p', project]);
    expect(restart.code, restart.stderr).toBe(0);
    expect(restart.stdout).toBe(
      'Set max_connections = 50 on Postgres: restarted Postgres (max_connections takes effect only at server start; fast shutdown, data kept)\n',
    );
    expect(postmaster()).not.toBe(pid);
    expect(await sql('SHOW max_connections')).toBe('50');
    expect(await items()).toEqual(['first', 'second', 'after-restart', 'daemon-dead']);

    const owned = await berth.cli(['db', 'config', 'set', 'listen_addresses=*', '-p', project]);
    expect(owned.code).toBe(1);
    expect(owned.stderr).toBe(
      'Error: listen_addresses is set by Berth (where the database listens and keeps its data) and cannot be changed.\n',
    );
    const unknown = await berth.cli(['db', 'config', 'set', 'work_memory=1MB', '-p', project]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('PostgreSQL has no setting "work_memory"');
    const bad = await berth.cli(['db', 'config', 'set', 'work_mem=lots', '-p', project]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('PostgreSQL refused work_mem = lots: ');
    expect(await sql('SHOW work_mem')).toBe('64MB');
  });

  it('lists extensions and says where pgvector comes from when the server lacks it', async () => {
    await sql('CREATE EXTENSION IF NOT EXISTS pgcrypto');
    const r = await berth.cli(['db', 'extensions', '--json', '-p', project]);
    expect(r.code, r.stderr).toBe(0);
    const ext = JSON.parse(r.stdout) as {
      available: { name: string; installedVersion: string | null }[];
      missing: { name: string; hint: string }[];
    };
    expect(ext.available.find((e) => e.name === 'pgcrypto')?.installedVersion).toMatch(/^\d/);
    expect(ext.available.find((e) => e.name === 'hstore')?.installedVersion).toBeNull();
    const vectorInstalled = fs.existsSync('/usr/share/postgresql/15/extension/vector.control');
    expect(ext.missing.some((m) => m.name === 'vector')).toBe(!vectorInstalled);
    if (!vectorInstalled) {
      const human = await berth.cli(['db', 'extensions', '-p', project]);
      expect(human.stdout).toContain(
        'pgvector (extension "vector") is not installed on the Berth server: it comes from PostgreSQL\'s apt repository (apt.postgresql.org; Debian 12\'s main archive lacks it) as postgresql-15-pgvector',
      );
    }
  });

  it.skipIf(fs.existsSync('/usr/share/postgresql/15/extension/vector.control'))(
    'fails a deployment whose migration needs pgvector with a reason saying where it comes from',
    async () => {
      const vec = ['-p', project, '-s', 'vec'];
      for (const cmd of [
        ['add', '--service', 'vec', '-p', project],
        [
          'variables',
          'set',
          'DATABASE_URL=${{Postgres.DATABASE_URL}}',
          'REQUIRE_EXTENSION=vector',
          '--skip-deploys',
          ...vec,
        ],
      ]) {
        const r = await berth.cli(cmd);
        expect(r.code, r.stderr).toBe(0);
      }
      const up = await berth.cli(['up', berth.app('pg-app', 'vec'), ...vec]);
      expect(up.code).not.toBe(0);
      const [latest] = await berth.settledDeployments(vec);
      expect(latest.status).toBe('FAILED');
      expect(latest.reason).toContain('extension "vector" is not available');
      expect(latest.reason).toContain(
        "it comes from PostgreSQL's apt repository (apt.postgresql.org) as postgresql-15-pgvector",
      );
    },
  );

  it("opens and closes a public port on the server's host (DATABASE_PUBLIC_URL)", async () => {
    const on = await berth.cli(['db', 'public', 'on', '--json', '-p', project]);
    expect(on.code, on.stderr).toBe(0);
    const { publicPort } = JSON.parse(on.stdout) as { publicPort: number };
    expect(publicPort).toBeGreaterThan(0);
    const v = JSON.parse((await berth.cli(['variables', '--json', ...db])).stdout) as Record<string, string>;
    expect(v.DATABASE_PUBLIC_URL).toBe(
      `postgresql://postgres:${v.PGPASSWORD}@localhost:${publicPort}/railway`,
    );
    const viaPublic = () =>
      new pg.Client({
        host: '127.0.0.1',
        port: publicPort,
        user: 'postgres',
        password: v.PGPASSWORD,
        database: 'railway',
      });
    const client = await waitFor(
      'the public port to accept a connection',
      async () => {
        const c = viaPublic();
        try {
          await c.connect();
          return c;
        } catch {
          await c.end().catch(() => undefined);
          return null;
        }
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    expect((await client.query('SELECT count(*)::int AS n FROM items')).rows[0].n).toBe(4);
    await client.end();

    const off = await berth.cli(['db', 'public', 'off', '-p', project]);
    expect(off.code, off.stderr).toBe(0);
    expect(off.stdout).toContain('Postgres is private');
    await waitFor(
      'the public port to close',
      async () => {
        const c = viaPublic();
        const ok = await c.connect().then(
          () => true,
          () => false,
        );
        await c.end().catch(() => undefined);
        return !ok;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    const after = JSON.parse((await berth.cli(['variables', '--json', ...db])).stdout) as Record<
      string,
      string
    >;
    expect(after.DATABASE_PUBLIC_URL).toBeUndefined();
  });

  it('gives another environment a cluster of its own, stopped when that environment is deleted', async () => {
    for (const cmd of [
      ['environment', 'new', 'staging', '-p', project],
      ['add', '--database', 'postgres', '-e', 'staging', '-p', project],
    ]) {
      const r = await berth.cli(cmd);
      expect(r.code, r.stderr).toBe(0);
    }
    const rows = engineRow();
    expect(rows).toHaveLength(2);
    expect(rows.map((r) => r.state)).toEqual(['running', 'running']);
    const stagingVars = JSON.parse(
      (await berth.cli(['variables', '--json', '-e', 'staging', ...db])).stdout,
    ) as Record<string, string>;
    expect(stagingVars.PGHOST).toBe(`postgres.staging.${project}.internal`);
    expect(stagingVars.PGPASSWORD).not.toBe(vars.PGPASSWORD);
    const s = new pg.Client({ connectionString: stagingVars.DATABASE_URL });
    await s.connect();
    // Its own data: production's table is not there.
    expect((await s.query("SELECT to_regclass('items') AS t")).rows[0].t).toBeNull();
    await s.end();
    const pids = engineRow().map((r) => (JSON.parse(r.handle_json ?? 'null') as { pid: number }).pid);

    const del = await berth.cli(['environment', 'delete', 'staging', '-p', project]);
    expect(del.code, del.stderr).toBe(0);
    expect(engineRow()).toHaveLength(1);
    const stillUp = (JSON.parse(engineRow()[0].handle_json ?? 'null') as { pid: number }).pid;
    const gone = pids.filter((p) => p !== stillUp);
    expect(gone).toHaveLength(1);
    expect(fs.existsSync(`/proc/${gone[0]}`)).toBe(false);
    expect(await items()).toEqual(['first', 'second', 'after-restart', 'daemon-dead']);
  });
});

describe('managed PostgreSQL without the postgresql package', () => {
  const berth = new BerthHarness();

  beforeAll(async () => {
    berth.daemonEnv = { BERTH_POSTGRES_ROOT: '/nonexistent/postgresql' };
    await berth.start();
    const r = await berth.cli(['init', '--name', 'nopg']);
    expect(r.code, r.stderr).toBe(0);
  });

  afterAll(async () => {
    await berth.stop();
  });

  it('names the Debian package in one sentence and creates nothing', async () => {
    const r = await berth.cli(['add', '--database', 'postgres', '-p', 'nopg']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'Error: PostgreSQL is not installed on the Berth server; install the Debian package postgresql (apt-get install postgresql) and try again.\n',
    );
    const status = JSON.parse((await berth.cli(['status', '--json', '-p', 'nopg'])).stdout) as {
      services: unknown[];
    };
    expect(status.services).toEqual([]);
  });
});
