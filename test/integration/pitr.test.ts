import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness, uniqueProject } from '../helpers/berth.js';
import { needsAll } from '../helpers/optional-tools.js';

interface Window {
  service: string;
  earliest: string | null;
  latest: string | null;
  ranges: { earliest: string; latest: string }[];
  windowDays: number;
  shippingError: string | null;
  lastBaseBackup: { status: string; error: string | null } | null;
}

const gate = needsAll(['postgresql'], 'managed PostgreSQL: point-in-time restore');

/**
 * Issue 16's point-in-time restore through bin/berth against a real server and the host's PostgreSQL: WAL is
 * archived continuously (basic_archive into the volume's spool, shipped by the daemon), a base backup is
 * taken when archiving starts, and `berth db restore --time T --name NEW` recovers a new service to T while
 * the source keeps running.
 */
describe.skipIf(gate.skip)(gate.title, () => {
  const berth = new BerthHarness();
  const project = uniqueProject('pitr');
  const p = ['-p', project];
  let url = '';

  const ok = async (args: string[]) => {
    const r = await berth.cli(args);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };
  const variables = async (service: string) =>
    JSON.parse(await ok(['variables', '--json', '-s', service, ...p])) as Record<string, string>;
  const query = async (connectionString: string, sql: string, params: unknown[] = []) => {
    const c = new pg.Client({ connectionString });
    await c.connect();
    try {
      return (await c.query(sql, params)).rows;
    } finally {
      await c.end();
    }
  };
  const window = async (service = 'Postgres') =>
    JSON.parse(await ok(['db', 'restore', '--list-window', '--json', '-s', service, ...p])) as Window;
  /** Closes the current WAL file so the archive gets it now instead of after archive_timeout. */
  const switchWal = (u = url) => query(u, 'SELECT pg_switch_wal()');
  /** Waits until the window reaches past `t` (the WAL holding it is shipped). */
  const windowPast = (t: string, service = 'Postgres', timeoutMs = 60_000) =>
    waitFor(
      `the restore window of ${service} to reach ${t}`,
      async () => {
        const w = await window(service);
        return w.latest && w.latest >= t ? w : null;
      },
      { timeoutMs, intervalMs: 250 },
    );
  const ids = async (u: string) =>
    (await query(u, 'SELECT id FROM items ORDER BY id')).map((r: { id: number }) => r.id);

  beforeAll(async () => {
    berth.hostsFile = '/etc/hosts';
    await berth.start();
    await ok(['init', '--name', project]);
    await ok(['add', '--database', 'postgres', ...p]);
    url = (await variables('Postgres')).DATABASE_URL;
    await query(url, 'CREATE TABLE items (id int PRIMARY KEY, note text)');
    await switchWal();
    // The first base backup comes once archiving has shipped something.
    await waitFor(
      'the first base backup and its WAL',
      async () => {
        const w = await window();
        return w.earliest ? w : null;
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );
  }, 150_000);

  afterAll(async () => {
    await berth.stop();
  });

  it('archives into a spool only the service user can read, and refuses turning archiving off', async () => {
    const spool = fs
      .readdirSync(path.join(berth.dataDir, 'volumes'), { recursive: true, withFileTypes: true })
      .find((d) => d.isDirectory() && d.name === 'wal-spool');
    expect(spool).toBeTruthy();
    const st = fs.statSync(path.join(spool?.parentPath ?? '', 'wal-spool'));
    expect(st.mode & 0o777).toBe(0o700);
    expect(st.uid).not.toBe(0);
    const off = await berth.cli(['db', 'config', 'set', 'archive_mode=off', ...p]);
    expect(off.code).toBe(1);
    expect(off.stderr).toBe(
      'Error: archive_mode is set by Berth (where the database listens and keeps its data) and cannot be changed.\n',
    );
    expect((await query(url, 'SHOW archive_timeout'))[0].archive_timeout).toBe('1min');
  });

  it('restores a new service to the noted instant: exactly the rows committed before it; the source is unchanged', async () => {
    await query(url, "INSERT INTO items SELECT g, 'before' FROM generate_series(1, 50) g");
    const noted = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20)); // commit timestamps after `noted` (clock resolution)
    await query(url, "INSERT INTO items SELECT g, 'after' FROM generate_series(51, 80) g");
    await query(url, 'DELETE FROM items WHERE id <= 10');
    await switchWal();
    await windowPast(noted);

    const out = await ok(['db', 'restore', '--time', noted, '--name', 'Restored', ...p]);
    // Stopped at T, or — when the archive reached T through a tail read before the later commits — replayed
    // through its last transaction before T: the same state either way (the rows below).
    expect(out).toMatch(
      /^Restored Postgres as of \S+ into Restored in [\d.]+s \(recovered (to|through the last transaction before) \S+, then promoted\)/,
    );
    const restored = await variables('Restored');
    expect(restored.DATABASE_URL).not.toBe(url);
    expect(restored.PGHOST).toContain('restored');
    // The data's roles and passwords: the same role logs in with the source's password, at its own address.
    expect(restored.PGPASSWORD).toBe((await variables('Postgres')).PGPASSWORD);
    expect(await ids(restored.DATABASE_URL)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    // Promoted: it takes writes, on a timeline of its own.
    await query(restored.DATABASE_URL, "INSERT INTO items VALUES (999, 'restored')");
    // The source kept running and kept everything.
    expect(await ids(url)).toEqual(Array.from({ length: 70 }, (_, i) => i + 11));
    const status = JSON.parse(await ok(['status', '--json', ...p])) as {
      services: { name: string; state: string }[];
    };
    expect(status.services.find((s) => s.name === 'Restored')?.state).toBe('running');
  });

  it('shows the window and refuses an instant outside it in one sentence, creating nothing', async () => {
    const w = await window();
    expect(w.earliest && w.latest && w.earliest < w.latest).toBe(true);
    expect(w.windowDays).toBe(7);
    expect(w.ranges).toEqual([{ earliest: w.earliest, latest: w.latest }]);
    expect(w.shippingError).toBeNull();
    expect(w.lastBaseBackup?.status).toBe('verified');
    const text = await ok(['db', 'restore', '--list-window', ...p, '-s', 'Postgres']);
    // The latest instant follows the database (each shipping pass that finds nothing new moves it to now).
    const listed = /can be restored to any instant from (\S+) to (\S+) \(window 7 days\)/.exec(text);
    expect(listed?.[1]).toBe(w.earliest);
    expect((listed?.[2] ?? '') >= (w.latest ?? '')).toBe(true);

    const early = new Date(Date.parse(w.earliest as string) - 3_600_000).toISOString();
    const r = await berth.cli([
      'db',
      'restore',
      '--time',
      early,
      '--name',
      'TooEarly',
      '-s',
      'Postgres',
      ...p,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `^Error: ${early.replace(/[.]/g, '\\.')} is outside the restore window of Postgres \\(production\\), which runs from \\S+ to \\S+; pick an instant in it`,
      ),
    );
    const bad = await berth.cli([
      'db',
      'restore',
      '--time',
      'yesterday',
      '--name',
      'X',
      '-s',
      'Postgres',
      ...p,
    ]);
    expect(bad.stderr).toBe(
      'Error: "yesterday" is not an instant; write it in RFC 3339 with its zone, like 2026-11-22T10:15:03Z.\n',
    );
    const services = JSON.parse(await ok(['status', '--json', ...p])) as { services: { name: string }[] };
    expect(services.services.map((s) => s.name)).not.toContain('TooEarly');
  });

  it('says in berth status why archiving fails, and loses nothing: the spool keeps WAL until the target takes it', async () => {
    const wal = path.join(berth.dataDir, 'backups', 'wal');
    fs.renameSync(wal, `${wal}.aside`);
    fs.writeFileSync(wal, 'not a directory');
    try {
      await query(url, "INSERT INTO items VALUES (400, 'while the target fails')");
      const noted = new Date().toISOString();
      await switchWal();
      const failing = await waitFor(
        'WAL shipping to fail',
        async () => {
          const w = await window();
          return w.shippingError ? w : null;
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      // The finished file, or the tail of the one being written (whichever pass met the failure first).
      expect(failing.shippingError).toMatch(
        /^Shipping (WAL file [0-9A-F]{24}\S*|the WAL being written) to the backup target failed: /,
      );
      const human = await ok(['status', ...p]);
      expect(human).toContain(
        `Postgres: point-in-time restore restorable from ${failing.earliest} to ${failing.latest}; Shipping `,
      );
      expect(failing.latest && failing.latest < noted).toBe(true);
      fs.rmSync(wal);
      fs.renameSync(`${wal}.aside`, wal);
      const healed = await windowPast(noted);
      expect(healed.shippingError).toBeNull();
    } finally {
      if (fs.existsSync(`${wal}.aside`)) {
        fs.rmSync(wal, { force: true });
        fs.renameSync(`${wal}.aside`, wal);
      }
    }
  });

  it('restores after a daemon restart, and branches --at a past instant with a password of its own', async () => {
    await query(url, "INSERT INTO items VALUES (500, 'before restart')");
    const noted = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    await query(url, 'DELETE FROM items');
    await berth.stopDaemon();
    await berth.startDaemon();
    await switchWal();
    await windowPast(noted);
    await ok(['db', 'branch', 'Past', '--at', noted, '--from', 'Postgres', ...p]);
    const past = await variables('Past');
    expect(past.PGPASSWORD).not.toBe((await variables('Postgres')).PGPASSWORD);
    expect((await ids(past.DATABASE_URL)).slice(-3)).toEqual([80, 400, 500]);
    expect(await ids(url)).toEqual([]);
  });

  it('restores a row committed a moment ago while its WAL file is still being written: the archive follows within seconds', async () => {
    // No WAL file closes during this test: what reaches the archive is the tail of the one being written.
    await ok(['db', 'config', 'set', 'archive_timeout=3600', '-s', 'Postgres', ...p]);
    try {
      await query(url, "INSERT INTO items VALUES (600, 'a moment ago')");
      const committed = new Date().toISOString();
      const [{ file }] = await query(url, 'SELECT pg_walfile_name(pg_current_wal_lsn()) AS file');
      const started = Date.now();
      await windowPast(committed, 'Postgres', 10_000);
      expect(Date.now() - started).toBeLessThan(10_000);
      const [{ last }] = await query(url, 'SELECT last_archived_wal AS last FROM pg_stat_archiver');
      expect(last < file, `${file} was archived (${last}), so this is not the tail`).toBe(true);
      await new Promise((r) => setTimeout(r, 20));
      await query(url, "INSERT INTO items VALUES (601, 'after the instant')");
      // The database is lost a moment later: a restore to the instant brings the row back, and only it.
      await windowPast(new Date().toISOString(), 'Postgres', 10_000);
      await ok(['db', 'restore', '--time', committed, '--name', 'Moment', '-s', 'Postgres', ...p]);
      expect((await ids((await variables('Moment')).DATABASE_URL)).slice(-1)).toEqual([600]);
    } finally {
      await ok(['db', 'config', 'set', 'archive_timeout=60s', '-s', 'Postgres', ...p]);
    }
  });

  it('ships the WAL being written every --tail-seconds, or with 0 only finished files (its tail leaves the target)', async () => {
    const bad = await berth.cli(['db', 'restore', '--tail-seconds', '5000', '-s', 'Postgres', ...p]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(
      'Error: How often the WAL being written is shipped must be a whole number of seconds from 0 (finished WAL files only) to 3600, not 5000.\n',
    );
    /** Postgres's recorded tail (its object's key), read from the server's state. */
    const tailKey = () => {
      const db = new Database(path.join(berth.dataDir, 'state.db'), { readonly: true });
      try {
        const r = db
          .prepare(
            `SELECT t.key FROM wal_tails t JOIN services s ON s.id = t.service_id WHERE s.name = 'Postgres'`,
          )
          .get() as { key: string } | undefined;
        return r?.key ?? null;
      } finally {
        db.close();
      }
    };
    const stored = (key: string) => fs.existsSync(path.join(berth.dataDir, 'backups', ...key.split('/')));
    await ok(['db', 'config', 'set', 'archive_timeout=3600', '-s', 'Postgres', ...p]);
    try {
      await query(url, "INSERT INTO items VALUES (700, 'tail on')");
      const key = await waitFor('a tail of Postgres', async () => tailKey(), {
        timeoutMs: 10_000,
        intervalMs: 100,
      });
      expect(stored(key)).toBe(true);
      const off = JSON.parse(
        await ok(['db', 'restore', '--tail-seconds', '0', '--json', '-s', 'Postgres', ...p]),
      ) as Window & { tailSeconds: number };
      expect(off.tailSeconds).toBe(0);
      await waitFor('the tail to leave the target', async () => !tailKey() && !stored(key), {
        timeoutMs: 10_000,
        intervalMs: 100,
      });
      const text = await ok(['db', 'restore', '--list-window', '-s', 'Postgres', ...p]);
      expect(text).toContain('WAL shipping: working, finished WAL files only');
      const on = JSON.parse(
        await ok(['db', 'restore', '--tail-seconds', '1', '--json', '-s', 'Postgres', ...p]),
      ) as Window & { tailSeconds: number };
      expect(on.tailSeconds).toBe(1);
      await query(url, "INSERT INTO items VALUES (701, 'tail on again')");
      await waitFor('a new tail of Postgres', async () => tailKey(), { timeoutMs: 10_000, intervalMs: 100 });
    } finally {
      await ok(['db', 'config', 'set', 'archive_timeout=60s', '-s', 'Postgres', ...p]);
    }
  });
});
