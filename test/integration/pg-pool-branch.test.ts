import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  findPgbouncer,
  hasPreparedStatements,
  preparedStatementsHint,
} from '../../src/data/postgres/pgbouncer.js';
import { canConnect } from '../../src/lib/net.js';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness, uniqueProject } from '../helpers/berth.js';
import { needsAll } from '../helpers/optional-tools.js';

interface Row {
  id: string;
  owner_kind: string;
  owner_id: string;
  state: string;
  restarts: number;
  handle_json: string | null;
}

const gate = needsAll(
  ['postgresql', 'pgbouncer'],
  'managed PostgreSQL: pooling (PgBouncer), branches, and a branch per preview environment',
);

/**
 * Issue 16's pooling and branching: `berth db pooler on` puts the host's PgBouncer in front of the database as
 * a supervised sidecar (DATABASE_URL_POOLED); `berth db branch` copies a running database into a new service
 * that diverges on its own; a preview environment made by a git push gets a branch of its base's database,
 * which goes with the preview.
 */
describe.skipIf(gate.skip)(gate.title, () => {
  const berth = new BerthHarness();
  // /etc/hosts is shared by every daemon on the machine: a project name of its own.
  const project = uniqueProject('pgb');
  const db = ['-p', project, '-s', 'Postgres'];
  let vars: Record<string, string> = {};
  const clients: pg.Client[] = [];

  const rows = (kind: string): Row[] => {
    const d = new Database(path.join(berth.dataDir, 'state.db'), { readonly: true, fileMustExist: true });
    try {
      return d.prepare('SELECT * FROM workloads WHERE owner_kind = ? ORDER BY created_at').all(kind) as Row[];
    } finally {
      d.close();
    }
  };
  const pidOf = (r: Row): number => (JSON.parse(r.handle_json ?? 'null') as { pid: number }).pid;
  /** The pgbouncer process itself (the workload's pid is its sandbox's bwrap), found by its command line. */
  const bouncerPid = (): number | undefined => {
    const bin = findPgbouncer()?.path;
    return fs
      .readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .map(Number)
      .find((p) => {
        try {
          const argv = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
          return argv[0] === bin && argv[1]?.startsWith(berth.dataDir);
        } catch {
          return false;
        }
      });
  };
  const variables = async (service: string, env = 'production') => {
    const r = await berth.cli(['variables', '--json', '-p', project, '-e', env, '-s', service]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Record<string, string>;
  };
  const connect = async (url: string) => {
    const c = new pg.Client({ connectionString: url });
    // Killing PgBouncer (a later test) ends these connections: an expected error, not an unhandled one.
    c.on('error', () => {});
    await c.connect();
    clients.push(c);
    return c;
  };
  const query = async (url: string, sql: string, params: unknown[] = []) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return (await c.query(sql, params)).rows;
    } finally {
      await c.end();
    }
  };
  /** A checksum of a table's rows, as a backup round trip would compare them. */
  const checksum = async (url: string, table: string) =>
    (await query(url, `SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) AS h FROM ${table} t`))[0]
      .h as string;

  beforeAll(async () => {
    berth.hostsFile = '/etc/hosts';
    await berth.start();
    for (const cmd of [
      ['init', '--name', project],
      ['add', '--database', 'postgres', '-p', project],
    ]) {
      const r = await berth.cli(cmd);
      expect(r.code, r.stderr).toBe(0);
    }
    vars = await variables('Postgres');
  });

  afterAll(async () => {
    for (const c of clients) await c.end().catch(() => undefined);
    await berth.stop();
  });

  it('puts PgBouncer in front with `berth db pooler on`, as its own sidecar workload under the service uid', async () => {
    const bouncer = findPgbouncer();
    if (!bouncer) throw new Error('pgbouncer vanished');
    const on = await berth.cli(['db', 'pooler', 'on', '-p', project]);
    expect(on.code, on.stderr).toBe(0);
    const hint = preparedStatementsHint(bouncer.version);
    expect(on.stdout).toBe(
      `PgBouncer runs in front of Postgres in transaction mode; apps reach it with \${{Postgres.DATABASE_URL_POOLED}} (redeploy them to pick it up).${hint ? ` ${hint}` : ''}\n`,
    );
    const v = await variables('Postgres');
    expect(v.DATABASE_URL_POOLED).toBe(
      `postgresql://postgres:${v.PGPASSWORD}@postgres.production.${project}.internal:6432/railway`,
    );
    const [sidecar] = rows('data-sidecar');
    expect(sidecar.state).toBe('running');
    expect(sidecar.owner_id).toBe(rows('data-service')[0].owner_id);
    // It runs as the database's own user, and its auth file holds the SCRAM secret, never the password.
    const volume = path.join(berth.dataDir, 'volumes');
    const [serviceDir] = fs.readdirSync(path.join(berth.dataDir, 'volumes'));
    const [envDir] = fs.readdirSync(path.join(berth.dataDir, 'volumes', serviceDir));
    const pooler = path.join(volume, serviceDir, envDir, 'pooler');
    const auth = fs.readFileSync(path.join(pooler, 'userlist.txt'), 'utf8');
    expect(auth).toMatch(/^"postgres" "SCRAM-SHA-256\$4096:/);
    expect(auth).not.toContain(v.PGPASSWORD);
    expect(fs.statSync(path.join(pooler, 'userlist.txt')).mode & 0o077).toBe(0);
    const owner = fs.statSync(path.join(volume, serviceDir, envDir, 'pgdata')).uid;
    const pgbouncerPid = bouncerPid();
    expect(pgbouncerPid).toBeDefined();
    expect(fs.readFileSync(`/proc/${pgbouncerPid}/cmdline`, 'utf8')).toBe(
      `${bouncer.path}\0${pooler}/pgbouncer.ini\0`,
    );
    expect(fs.statSync(`/proc/${pgbouncerPid}`).uid).toBe(owner);
    // On again while it runs: left alone (its clients keep their connections).
    const again = await berth.cli(['db', 'pooler', 'on', '-p', project]);
    expect(again.code, again.stderr).toBe(0);
    expect(bouncerPid()).toBe(pgbouncerPid);
    expect(rows('data-sidecar')).toHaveLength(1);
  });

  it('runs queries and a prepared statement through the pooler, pooling server connections', async () => {
    const url = (await variables('Postgres')).DATABASE_URL_POOLED;
    const a = await connect(url);
    const b = await connect(url);
    // Parameters go as an unnamed prepared statement (Parse/Bind/Execute in one transaction): always works.
    expect((await a.query('SELECT $1::int + 1 AS n', [41])).rows[0].n).toBe(42);
    // Transaction pooling: two idle clients take turns on one server connection.
    const pa = (await a.query('SELECT pg_backend_pid() AS p')).rows[0].p;
    const pb = (await b.query('SELECT pg_backend_pid() AS p')).rows[0].p;
    expect(pb).toBe(pa);
    // A named prepared statement (node-postgres keeps it per client connection and parses it once).
    expect((await a.query({ name: 'plus', text: 'SELECT $1::int + 1 AS n', values: [1] })).rows[0].n).toBe(2);
    const second = await b.query({ name: 'plus', text: 'SELECT $1::int + 1 AS n', values: [2] }).then(
      (r) => r.rows[0].n as number,
      (e: Error) => e.message,
    );
    const bouncer = findPgbouncer();
    if (bouncer && hasPreparedStatements(bouncer.version)) {
      expect(second).toBe(3);
    } else {
      // What `berth db pooler on` warned of: PgBouncer < 1.21 hands b the server connection where a prepared
      // "plus", and PostgreSQL refuses to prepare it again.
      expect(second).toBe('prepared statement "plus" already exists');
    }
    // Wrong credentials are refused by the pooler itself.
    const wrong = new pg.Client({ connectionString: url.replace(vars.PGPASSWORD, 'not-the-password') });
    const err = await wrong.connect().then(
      () => null,
      (e: Error) => e.message,
    );
    await wrong.end().catch(() => undefined);
    expect(err).toContain('SASL authentication failed');
  });

  it('keeps pooled connections through a kill -9 of the daemon (the pooler re-adopted) and a database restart', async () => {
    const url = (await variables('Postgres')).DATABASE_URL_POOLED;
    const held = await connect(url);
    const before = pidOf(rows('data-sidecar')[0]);
    await berth.killDaemon();
    expect((await held.query('SELECT 7 AS n')).rows[0].n).toBe(7);
    await berth.startDaemon();
    await waitFor('the pooler to be adopted', async () => rows('data-sidecar')[0]?.state === 'running', {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    expect(rows('data-sidecar')).toHaveLength(1);
    expect(pidOf(rows('data-sidecar')[0])).toBe(before);
    expect((await held.query('SELECT 8 AS n')).rows[0].n).toBe(8);
    // A restart of the database closes PgBouncer's server connections, not its clients'.
    const restart = await berth.cli(['restart', ...db]);
    expect(restart.code, restart.stderr).toBe(0);
    expect((await held.query('SELECT 9 AS n')).rows[0].n).toBe(9);
  });

  it('restarts PgBouncer by policy when it is killed (kill -9)', async () => {
    const [row] = rows('data-sidecar');
    const pid = bouncerPid();
    if (!pid) throw new Error('no pgbouncer process');
    process.kill(pid, 'SIGKILL');
    await waitFor(
      'the pooler to be restarted',
      async () => {
        const [r] = rows('data-sidecar');
        return r.state === 'running' && r.restarts === row.restarts + 1 && bouncerPid() !== pid;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const url = (await variables('Postgres')).DATABASE_URL_POOLED;
    expect((await query(url, 'SELECT 1 AS n'))[0].n).toBe(1);
  });

  it('branches a running database into a new service that diverges without touching its parent', async () => {
    const parent = vars.DATABASE_URL;
    // About 20 MB of rows, so the copy is a copy and not a template.
    await query(
      parent,
      "CREATE TABLE accounts AS SELECT g AS id, md5(g::text) || repeat('x', 100) AS note FROM generate_series(1, 150000) g",
    );
    const parentSum = await checksum(parent, 'accounts');
    const engineBefore = pidOf(rows('data-service')[0]);

    const at = await berth.cli(['db', 'branch', 'Past', '--at', '2026-12-06T10:00:00Z', '-p', project]);
    expect(at.code).toBe(1);
    // Before the database existed: outside its restore window (test/integration/pitr.test.ts branches inside it).
    expect(at.stderr).toMatch(
      /^Error: (Postgres \(production\) has no restorable instant yet|2026-12-06T10:00:00Z is outside the restore window of Postgres \(production\))/,
    );

    const r = await berth.cli(['db', 'branch', 'Feature', '--from', 'Postgres', '-p', project]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^Branched Postgres into Feature in \d+\.\d\ds: a copy of its data as of now, with its own credentials \(`berth variables -s Feature`\); Postgres is untouched\.\n$/,
    );
    const branch = await variables('Feature');
    expect(branch.DATABASE_URL).toBe(
      `postgresql://postgres:${branch.PGPASSWORD}@feature.production.${project}.internal:5432/railway`,
    );
    expect(branch.PGPASSWORD).not.toBe(vars.PGPASSWORD);
    // Its own credentials: the parent's password no longer opens the copy.
    const stale = new pg.Client({
      connectionString: branch.DATABASE_URL.replace(branch.PGPASSWORD, vars.PGPASSWORD),
    });
    const refused = await stale.connect().then(
      () => null,
      (e: Error & { code?: string }) => e.code,
    );
    await stale.end().catch(() => undefined);
    expect(refused).toBe('28P01');

    expect(await checksum(branch.DATABASE_URL, 'accounts')).toBe(parentSum);
    // The parent kept running through the copy (same postmaster) and is not the branch's engine.
    expect(pidOf(rows('data-service')[0])).toBe(engineBefore);
    expect(rows('data-service')).toHaveLength(2);

    await query(branch.DATABASE_URL, "UPDATE accounts SET note = 'branch' WHERE id <= 10");
    await query(branch.DATABASE_URL, 'CREATE TABLE only_in_branch (x int)');
    await query(parent, 'DELETE FROM accounts WHERE id > 149990');
    const parentAfter = await checksum(parent, 'accounts');
    const branchAfter = await checksum(branch.DATABASE_URL, 'accounts');
    expect(parentAfter).not.toBe(parentSum);
    expect(branchAfter).not.toBe(parentSum);
    expect(branchAfter).not.toBe(parentAfter);
    expect((await query(parent, 'SELECT count(*)::int AS n FROM accounts'))[0].n).toBe(149990);
    expect((await query(branch.DATABASE_URL, 'SELECT count(*)::int AS n FROM accounts'))[0].n).toBe(150000);
    expect((await query(parent, "SELECT count(*)::int AS n FROM accounts WHERE note = 'branch'"))[0].n).toBe(
      0,
    );
    expect((await query(parent, "SELECT to_regclass('only_in_branch') AS t"))[0].t).toBeNull();

    const again = await berth.cli(['db', 'branch', 'Feature', '-s', 'Postgres', '-p', project]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(
      `Error: Service "Feature" already exists in project "${project}"; pick another name with --service.\n`,
    );
  });

  it('takes the pooler away with `berth db pooler off`', async () => {
    const host = new URL(vars.DATABASE_URL).hostname;
    const off = await berth.cli(['db', 'pooler', 'off', ...db]);
    expect(off.code, off.stderr).toBe(0);
    expect(off.stdout).toBe(
      'Postgres has no pooler now; DATABASE_URL_POOLED is gone, so redeploy the services that use it.\n',
    );
    expect(rows('data-sidecar')).toHaveLength(0);
    expect((await variables('Postgres')).DATABASE_URL_POOLED).toBeUndefined();
    expect(await canConnect(6432, host)).toBe(false);
    expect(bouncerPid()).toBeUndefined();
    expect(await canConnect(5432, host)).toBe(true);
  });

  it('stops the pooler with its database when the database service is deleted', async () => {
    const on = await berth.cli(['db', 'pooler', 'on', '-p', project, '-s', 'Feature']);
    expect(on.code, on.stderr).toBe(0);
    const pid = bouncerPid();
    expect(pid).toBeDefined();
    expect(rows('data-sidecar')).toHaveLength(1);
    const del = await berth.cli(['service', 'delete', '-y', '-p', project, '-s', 'Feature']);
    expect(del.code, del.stderr).toBe(0);
    await waitFor('the pooler to stop', async () => !fs.existsSync(`/proc/${pid}`), {
      timeoutMs: 20_000,
      intervalMs: 100,
    });
    expect(rows('data-sidecar')).toHaveLength(0);
    expect(rows('data-service')).toHaveLength(1);
  });
});

/** A preview made by `git push` of a branch gets a branch of its base's database; it goes with the preview. */
describe.skipIf(gate.skip)(`${gate.title}: previews`, () => {
  const berth = new BerthHarness();
  const project = uniqueProject('pgp');
  let repo: string;

  const git = (args: string[]): Promise<{ code: number; output: string }> =>
    new Promise((resolve) => {
      execFile(
        'git',
        ['-c', 'user.name=Ada', '-c', 'user.email=ada@example.com', ...args],
        {
          cwd: repo,
          timeout: 300_000,
          env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', HOME: berth.dir },
        },
        (err, stdout, stderr) =>
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, output: stdout + stderr }),
      );
    });
  const remote = () => `http://x:${berth.token}@127.0.0.1:${berth.apiPort}/git/${project}.git`;
  const items = async (env: string) => {
    const res = await berth.get(berth.hostFor(project, project, env), '/items');
    expect(res.status, res.body).toBe(200);
    return (JSON.parse(res.body) as { name: string }[]).map((r) => r.name);
  };
  const insert = async (env: string, name: string) => {
    // node:http, not fetch: fetch does not let a request name its own Host.
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: berth.httpPort,
          path: `/items?name=${name}`,
          method: 'POST',
          headers: { host: berth.hostFor(project, project, env) },
        },
        (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(201);
  };

  beforeAll(async () => {
    berth.hostsFile = '/etc/hosts';
    await berth.start();
    repo = berth.app('pg-app', 'preview-app');
    for (const cmd of [
      ['init', '--name', project],
      ['add', '--database', 'postgres', '-p', project],
      ['add', '--service', project, '-p', project],
      [
        'variables',
        'set',
        'DATABASE_URL=${{Postgres.DATABASE_URL}}',
        '--skip-deploys',
        '-p',
        project,
        '-s',
        project,
      ],
    ]) {
      const r = await berth.cli(cmd, { cwd: repo });
      expect(r.code, r.stderr).toBe(0);
    }
    for (const args of [
      ['init', '-q', '-b', 'main'],
      ['add', '.'],
      ['commit', '-qm', 'first'],
    ]) {
      const r = await git(args);
      expect(r.code, r.output).toBe(0);
    }
    const push = await git(['push', remote(), 'main']);
    expect(push.code, push.output).toBe(0);

    await insert('production', 'from-production');
  });

  afterAll(async () => {
    await berth.stop();
  });

  it('gives the preview its own branch of the database, and drops it on teardown', async () => {
    expect((await git(['checkout', '-q', '-b', 'feature/x'])).code).toBe(0);
    expect((await git(['commit', '-q', '--allow-empty', '-m', 'feature'])).code).toBe(0);
    const push = await git(['push', remote(), 'feature/x']);
    expect(push.code, push.output).toBe(0);
    expect(push.output).toContain('created preview environment br-feature-x');

    // Its DATABASE_URL resolves to the preview's own copy, which starts with production's rows.
    const env = JSON.parse((await berth.get(berth.hostFor(project, project, 'br-feature-x'), '/env')).body);
    expect(env.host).toBe(`postgres.br-feature-x.${project}.internal`);
    expect(await items('br-feature-x')).toEqual(['from-production']);
    await insert('br-feature-x', 'from-preview');
    await insert('production', 'production-again');
    expect(await items('br-feature-x')).toEqual(['from-production', 'from-preview']);
    expect(await items('production')).toEqual(['from-production', 'production-again']);
    const prod = JSON.parse(
      (await berth.cli(['variables', '--json', '-p', project, '-s', 'Postgres'])).stdout,
    ) as Record<string, string>;
    const preview = JSON.parse(
      (await berth.cli(['variables', '--json', '-p', project, '-e', 'br-feature-x', '-s', 'Postgres']))
        .stdout,
    ) as Record<string, string>;
    expect(preview.PGPASSWORD).not.toBe(prod.PGPASSWORD);

    // The preview's data service: its engine's process and its volume.
    const d = new Database(path.join(berth.dataDir, 'state.db'), { readonly: true });
    const branch = d
      .prepare(
        `SELECT ds.service_id AS service, ds.environment_id AS env, w.handle_json AS handle
           FROM data_services ds JOIN environments e ON e.id = ds.environment_id
           JOIN workloads w ON w.owner_kind = 'data-service' AND w.owner_id = ds.id
          WHERE e.name = 'br-feature-x'`,
      )
      .get() as { service: string; env: string; handle: string };
    d.close();
    const volume = path.join(berth.dataDir, 'volumes', branch.service, branch.env);
    const enginePid = (JSON.parse(branch.handle) as { pid: number }).pid;
    expect(fs.existsSync(path.join(volume, 'pgdata', 'PG_VERSION'))).toBe(true);
    expect(fs.existsSync(`/proc/${enginePid}`)).toBe(true);

    const del = await git(['push', remote(), '--delete', 'feature/x']);
    expect(del.code, del.output).toBe(0);
    expect(del.output).toMatch(/deleted preview environment br-feature-x/);
    await waitFor('the preview database to stop', async () => !fs.existsSync(`/proc/${enginePid}`), {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    expect(fs.existsSync(volume)).toBe(false);
    expect(await items('production')).toEqual(['from-production', 'production-again']);
  });
});
