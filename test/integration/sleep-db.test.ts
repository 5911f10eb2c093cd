import { spawn } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPgbouncer } from '../../src/data/postgres/pgbouncer.js';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness, uniqueProject } from '../helpers/berth.js';
import { needs } from '../helpers/optional-tools.js';

/**
 * Scale to zero for databases (issue 16): `berth db sleep --after` stops an idle PostgreSQL (data kept) and the
 * next client's connection starts it again: node-postgres and psql see no error, only latency. Redis too.
 */
const withoutPostgres = needs('postgresql', 'managed PostgreSQL');
describe.skipIf(withoutPostgres.skip)(withoutPostgres.title, () => {
  const berth = new BerthHarness();
  // /etc/hosts is shared by every daemon on the machine: a project name of its own.
  const project = uniqueProject('sleepdb');
  const db = ['-p', project, '-s', 'Postgres'];
  let url = '';

  const stateOf = async (name: string) => {
    const r = await berth.cli(['status', '--json', '-p', project]);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as { services: { name: string; state: string | null }[] };
    return s.services.find((x) => x.name === name)?.state ?? null;
  };
  const until = (name: string, state: string) =>
    waitFor(`${name} to be ${state}`, async () => (await stateOf(name)) === state, {
      timeoutMs: 60_000,
      intervalMs: 200,
    });
  const query = async (sql: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(sql)).rows as Record<string, unknown>[];
    } finally {
      await client.end();
    }
  };

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
    const vars = await berth.cli(['variables', '--json', ...db]);
    url = (JSON.parse(vars.stdout) as Record<string, string>).DATABASE_URL;
    await query('CREATE TABLE kept (n int); INSERT INTO kept VALUES (1), (2), (3)');
  });

  afterAll(async () => {
    await berth.stop();
  });

  it('refuses an idle period that is not a duration, in one sentence', async () => {
    const r = await berth.cli(['db', 'sleep', '--after', '10x', ...db]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('Error: --after takes a duration like 90s, 10m or 2h, not "10x"\n');
  });

  it('sleeps after the idle period and shows SLEEPING', async () => {
    const r = await berth.cli(['db', 'sleep', '--after', '2s', ...db]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      'Postgres sleeps after 2s without a client connection and wakes on the next one.\n',
    );
    await until('Postgres', 'sleeping');
    const human = await berth.cli(['status', '-p', project]);
    expect(human.stdout).toMatch(/Postgres\s+postgres\s+SLEEPING/);
  });

  it('wakes on a node-postgres connection that then queries without an error, data kept', async () => {
    const t0 = Date.now();
    const rows = await query('SELECT sum(n)::int AS total FROM kept');
    expect(rows).toEqual([{ total: 6 }]);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(await stateOf('Postgres')).toBe('running');
  });

  it('wakes on psql too', async () => {
    await until('Postgres', 'sleeping');
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const p = spawn('psql', [url, '-At', '-c', 'SELECT count(*) FROM kept'], { stdio: 'pipe' });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (b) => {
        stdout += b;
      });
      p.stderr.on('data', (b) => {
        stderr += b;
      });
      p.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
    expect(out.stderr).toBe('');
    expect(out).toMatchObject({ code: 0, stdout: '3\n' });
  });

  it('stays asleep across a daemon restart, listener back, and wakes after it', async () => {
    await until('Postgres', 'sleeping');
    await berth.stopDaemon();
    await berth.startDaemon();
    expect(await stateOf('Postgres')).toBe('sleeping');
    expect(await query('SELECT count(*)::int AS n FROM kept')).toEqual([{ n: 3 }]);
  });

  it('a connection held open keeps it awake while other clients come and go', async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      // Five idle periods of queries on the held connection: the database serves them all, awake throughout.
      for (let i = 0; i < 50; i++) {
        expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(await stateOf('Postgres')).toBe('running');
    } finally {
      await client.end();
    }
  });

  it.skipIf(!findPgbouncer())(
    'with the pooler on, PostgreSQL sleeps and PgBouncer wakes it for a pooled query',
    async () => {
      const on = await berth.cli(['db', 'pooler', 'on', ...db]);
      expect(on.code, on.stderr).toBe(0);
      await until('Postgres', 'sleeping');
      const vars = await berth.cli(['variables', '--json', ...db]);
      const pooled = (JSON.parse(vars.stdout) as Record<string, string>).DATABASE_URL_POOLED;
      const client = new pg.Client({ connectionString: pooled });
      await client.connect();
      try {
        expect((await client.query('SELECT count(*)::int AS n FROM kept')).rows).toEqual([{ n: 3 }]);
      } finally {
        await client.end();
      }
      expect(await stateOf('Postgres')).toBe('running');
      const off = await berth.cli(['db', 'pooler', 'off', ...db]);
      expect(off.code, off.stderr).toBe(0);
    },
  );

  it('`berth db sleep off` wakes it and keeps it awake', async () => {
    await until('Postgres', 'sleeping');
    const r = await berth.cli(['db', 'sleep', 'off', ...db]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('Postgres never sleeps (scale to zero is off).\n');
    expect(await stateOf('Postgres')).toBe('running');
  });
});

const withoutRedis = needs('redis-server', 'managed Redis');
describe.skipIf(withoutRedis.skip)(`${withoutRedis.title}: sleeping`, () => {
  const berth = new BerthHarness();
  const project = uniqueProject('sleepredis');

  beforeAll(async () => {
    berth.hostsFile = '/etc/hosts';
    await berth.start();
    for (const cmd of [
      ['init', '--name', project],
      ['add', '--database', 'redis', '-p', project],
      ['db', 'sleep', '--after', '1s', '-p', project, '-s', 'Redis'],
    ]) {
      const r = await berth.cli(cmd);
      expect(r.code, r.stderr).toBe(0);
    }
  });

  afterAll(async () => {
    await berth.stop();
  });

  it('sleeps and wakes on an ioredis connection that gets its answer', async () => {
    const { Redis } = await import('ioredis');
    const vars = await berth.cli(['variables', '--json', '-p', project, '-s', 'Redis']);
    const url = (JSON.parse(vars.stdout) as Record<string, string>).REDIS_URL;
    await waitFor(
      'Redis to sleep',
      async () => {
        const s = JSON.parse((await berth.cli(['status', '--json', '-p', project])).stdout) as {
          services: { name: string; state: string | null }[];
        };
        return s.services.find((x) => x.name === 'Redis')?.state === 'sleeping';
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const redis = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      expect(await redis.set('k', 'v')).toBe('OK');
      expect(await redis.get('k')).toBe('v');
    } finally {
      redis.disconnect();
    }
  });

  it('a setting changed while it sleeps wakes it first (the change connects to it under its lock)', async () => {
    const state = async () =>
      (
        JSON.parse((await berth.cli(['status', '--json', '-p', project])).stdout) as {
          services: { name: string; state: string | null }[];
        }
      ).services.find((x) => x.name === 'Redis')?.state;
    await waitFor('Redis to sleep', async () => (await state()) === 'sleeping', {
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    const r = await berth.cli(
      ['redis', 'config', 'set', 'maxmemory-policy', 'allkeys-lru', '-p', project, '-s', 'Redis'],
      { timeoutMs: 30_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('allkeys-lru');
  });
});
