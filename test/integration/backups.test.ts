import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupView as ListedBackup } from '../../src/api/contract/index.js';
import { INTERRUPTED_REASON } from '../../src/backup/recovery.js';
import { waitFor } from '../../src/lib/wait.js';
import { groupAlive } from '../../src/runtime/proc.js';
import { BerthHarness } from '../helpers/berth.js';
import { needs } from '../helpers/optional-tools.js';

/**
 * Backups wired into the product (issue 16): the real CLI against a real server and real PostgreSQL — create,
 * list, restore into a new service and in place, schedules in status, a corrupted archive refused, a final
 * backup when the database is deleted, and project tokens kept to their environment.
 */
const withoutPostgres = needs('postgresql', 'berth backup');
describe.skipIf(withoutPostgres.skip)(withoutPostgres.title, () => {
  const berth = new BerthHarness();
  const project = `bk${process.pid}`;
  const p = ['-p', project];

  const cli = async (args: string[], env?: Record<string, string>) => berth.cli(args, { env });
  const ok = async (args: string[]) => {
    const r = await cli(args);
    expect(r.code, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(0);
    return r.stdout;
  };
  /** SQL through `berth connect` (psql over the API's tunnel): unaligned, tuples only. */
  const sql = (service: string, query: string) => ok(['connect', service, ...p, '--', '-At', '-c', query]);
  const checksum = async (service: string) =>
    (
      await sql(
        service,
        "SELECT count(*) || ':' || md5(string_agg(id || '=' || name, ',' ORDER BY id)) FROM items",
      )
    ).trim();
  const list = async (args: string[] = ['-s', 'Postgres']) =>
    JSON.parse(await ok(['backup', 'list', '--json', ...p, ...args])) as ListedBackup[];
  const create = async () => {
    const out = await ok(['backup', 'create', '-s', 'Postgres', ...p]);
    const id = /Backup (\S+) of Postgres is verified/.exec(out)?.[1];
    expect(id, out).toBeTruthy();
    return id as string;
  };

  beforeAll(async () => {
    await berth.start();
    await ok(['init', '--name', project]);
    await ok(['add', '--database', 'postgres', ...p]);
    await sql(
      'Postgres',
      "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 500) g",
    );
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('backup create waits for a verified archive, and backup list shows it', async () => {
    const id = await create();
    const [first] = await list();
    expect(first).toMatchObject({ id, verified: true, error: null, service: 'Postgres' });
    expect(first.sizeBytes).toBeGreaterThan(0);
    expect(Object.keys(first)).toEqual(expect.arrayContaining(['id', 'createdAt', 'sizeBytes', 'verified']));
    const human = await ok(['backup', 'list', '-s', 'Postgres', ...p]);
    expect(human).toMatch(new RegExp(`${id}.*verified`));
  });

  it('a daemon killed (kill -9) during a backup: the next start kills its pg_dump and records it failed', async () => {
    // A client of our own (not through the daemon's tunnel, which dies with it) holds a lock pg_dump must wait
    // for, so the backup is still running when the daemon dies, and would stay so.
    const vars = JSON.parse(await ok(['variables', '--json', '-s', 'Postgres', ...p])) as Record<
      string,
      string
    >;
    const hosts = fs.readFileSync(berth.hostsFile, 'utf8').split('\n');
    const ip = hosts.find((l) => l.split(/\s+/).includes(vars.PGHOST))?.split(/\s+/)[0];
    const locker = new pg.Client({
      host: ip,
      port: Number(vars.PGPORT),
      user: vars.PGUSER,
      password: vars.PGPASSWORD,
      database: vars.PGDATABASE,
    });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE items IN ACCESS EXCLUSIVE MODE');
      const creating = cli(['backup', 'create', '-s', 'Postgres', ...p]);
      const jobs = path.join(berth.dataDir, 'backup-jobs');
      const pid = await waitFor('pg_dump to run', () => {
        const [file] = fs.existsSync(jobs) ? fs.readdirSync(jobs) : [];
        return file ? Number(file) : null;
      });
      expect(groupAlive(pid)).toBe(true);
      await berth.killDaemon();
      await creating;
      expect(groupAlive(pid)).toBe(true); // waiting on the lock, with nobody to read what it writes
      await berth.startDaemon();
      expect(groupAlive(pid)).toBe(false);
    } finally {
      await locker.end().catch(() => undefined);
    }
    const [interrupted] = await list();
    expect(interrupted).toMatchObject({ verified: false, error: INTERRUPTED_REASON });
  });

  it('restore --to builds a new database with the same table checksum and leaves the source alone', async () => {
    const before = await checksum('Postgres');
    const latest = (await list()).find((b) => b.verified);
    const out = await ok(['backup', 'restore', latest?.id ?? 'none', '--to', 'Copy', ...p]);
    expect(out).toContain('the source database was not touched');
    expect(await checksum('Copy')).toBe(before);
    expect(await checksum('Postgres')).toBe(before);
    // The copy diverges without touching its source.
    await sql('Copy', 'DELETE FROM items WHERE id > 10');
    expect(await checksum('Postgres')).toBe(before);
  });

  it('restore --in-place brings back rows deleted after the backup, after a backup of the state before', async () => {
    const before = await checksum('Postgres');
    const id = await create();
    await sql('Postgres', 'DELETE FROM items WHERE id % 2 = 0');
    expect(await checksum('Postgres')).not.toBe(before);
    const refused = await cli(['backup', 'restore', id, '--in-place', ...p]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('Nothing was changed: pass -y');
    const out = await ok(['backup', 'restore', id, '--in-place', '-y', '--json', ...p]);
    const r = JSON.parse(out) as { preRestoreBackupId: string; message: string };
    expect(r.message).toContain('restored into a fresh database that then took its name');
    expect(await checksum('Postgres')).toBe(before);
    const pre = (await list()).find((b) => b.id === r.preRestoreBackupId);
    expect(pre).toMatchObject({ verified: true });
  });

  it('a schedule change shows in berth status with the next run', async () => {
    const out = await ok(['backup', 'schedule', '15 3 * * *', '--keep-days', '7', '-s', 'Postgres', ...p]);
    expect(out).toContain('"15 3 * * *" (UTC), archives kept 7 days');
    const status = JSON.parse(await ok(['status', '--json', ...p])) as {
      services: {
        name: string;
        backups?: { cron: string; keepDays: number; nextRunAt: string; last: ListedBackup };
      }[];
    };
    const db = status.services.find((s) => s.name === 'Postgres');
    expect(db?.backups).toMatchObject({ cron: '15 3 * * *', keepDays: 7, last: { verified: true } });
    const next = new Date(db?.backups?.nextRunAt ?? '');
    expect([next.getUTCHours(), next.getUTCMinutes()]).toEqual([3, 15]);
    expect(await ok(['status', ...p])).toMatch(/Postgres\s+\S+\s+verified\s+15 3 \* \* \* \(keep 7 days\)/);
    const bad = await cli(['backup', 'schedule', 'every day', '-s', 'Postgres', ...p]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('"every day" is not a backup schedule');
  });

  it('a corrupted archive is refused with the reason and nothing is created or touched', async () => {
    const id = await create();
    const files = fs.readdirSync(path.join(berth.dataDir, 'backups'), { recursive: true }) as string[];
    const file = files.find((f) => f.endsWith(`${id}.dump`));
    expect(file).toBeTruthy();
    const full = path.join(berth.dataDir, 'backups', file as string);
    const bytes = fs.readFileSync(full);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    fs.writeFileSync(full, bytes);
    const before = await checksum('Postgres');
    for (const how of [
      ['--to', 'Broken'],
      ['--in-place', '-y'],
    ]) {
      const r = await cli(['backup', 'restore', id, ...how, ...p]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`Backup ${id} cannot be restored`);
      expect(r.stderr).toContain('SHA-256');
    }
    const status = JSON.parse(await ok(['status', '--json', ...p])) as { services: { name: string }[] };
    expect(status.services.map((s) => s.name)).not.toContain('Broken');
    expect(await checksum('Postgres')).toBe(before);
    expect((await list()).find((b) => b.id === id)).toMatchObject({ verified: false });
  });

  it("a project token of another environment gets 403 on this environment's backups", async () => {
    await ok(['environment', 'new', 'staging', ...p]);
    const token = (await ok(['token', 'create', ...p, '-e', 'staging', '--name', 'ci'])).trim();
    const r = await cli(['backup', 'list', '-s', 'Postgres', ...p, '-e', 'production'], {
      BERTH_TOKEN: token,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('only reaches the staging environment');
    const create = await cli(['backup', 'create', '-s', 'Postgres', ...p, '-e', 'production'], {
      BERTH_TOKEN: token,
    });
    expect(create.stderr).toContain('only reaches the staging environment');
    const own = await cli(['backup', 'list', '--all', '--json', ...p, '-e', 'staging'], {
      BERTH_TOKEN: token,
    });
    expect(own.code, own.stderr).toBe(0);
    expect(JSON.parse(own.stdout)).toEqual([]);
  });

  it("deleting an environment takes its databases' final backups first", async () => {
    await ok(['add', '--database', 'postgres', '--service', 'StagingDb', ...p, '-e', 'staging']);
    const out = await ok(['environment', 'delete', 'staging', ...p]);
    const id = /Final backup (\S+) of StagingDb \(staging\) is verified/.exec(out)?.[1];
    expect(id, out).toBeTruthy();
    expect(out).toMatch(/The volume of StagingDb \(staging\) stays at \S+/);
    const file = (fs.readdirSync(path.join(berth.dataDir, 'backups'), { recursive: true }) as string[]).find(
      (f) => f.endsWith(`${id}.dump`),
    );
    expect(file).toBeTruthy();
    // The environment is gone: the admin still sees the backup and can bring it back into another environment,
    // a project token cannot.
    const everywhere = JSON.parse(await ok(['backup', 'list', '--everywhere', '--json'])) as ListedBackup[];
    expect(everywhere.find((b) => b.id === id)).toMatchObject({ verified: true, environment: null });
    const token = (await ok(['token', 'create', ...p, '-e', 'production', '--name', 'prod'])).trim();
    const denied = await cli(['backup', 'list', '--everywhere'], { BERTH_TOKEN: token });
    expect(denied.stderr).toContain('only reaches the production environment');
    const notHers = await cli(['backup', 'restore', id as string, '--to', 'StagingBack', ...p], {
      BERTH_TOKEN: token,
    });
    expect(notHers.code).toBe(1);
    expect(notHers.stderr).toContain(`Backup "${id}" does not exist in environment production`);
    await ok(['backup', 'restore', id as string, '--to', 'StagingBack', ...p]);
    await ok(['service', 'delete', '-s', 'StagingBack', '-y', '--skip-final-backup', '--delete-data', ...p]);
  });

  it('deleting the database takes a final backup that backup list --all still shows; the volume stays', async () => {
    const before = (await list()).length;
    const out = await ok(['service', 'delete', '-s', 'Postgres', '-y', ...p]);
    const id = /Final backup (\S+) of Postgres \(production\) is verified/.exec(out)?.[1];
    expect(id, out).toBeTruthy();
    const volume = /The volume stays at (\S+);/.exec(out)?.[1] ?? '';
    expect(fs.existsSync(path.join(volume, 'pgdata'))).toBe(true);
    const all = JSON.parse(await ok(['backup', 'list', '--all', '--json', ...p])) as ListedBackup[];
    const gone = all.filter((b) => b.service === null);
    expect(gone.length).toBe(before + 1);
    expect(gone.find((b) => b.id === id)).toMatchObject({ verified: true });
    // The final backup restores into a new service, like any other.
    await ok(['backup', 'restore', id as string, '--to', 'Revived', ...p]);
    expect((await checksum('Revived')).split(':')[0]).toBe('500');
    // A final backup that fails (pg_dump cannot log in once the password changed) refuses the deletion.
    await sql('Revived', "ALTER USER postgres PASSWORD 'changed-behind-berths-back'");
    const refused = await cli(['service', 'delete', '-s', 'Revived', '-y', ...p]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('The final backup of Revived (production) failed: pg_dump failed:');
    expect(refused.stderr).toContain('password authentication failed');
    expect(refused.stderr).toContain('nothing was deleted');
    const status = JSON.parse(await ok(['status', '--json', ...p])) as {
      services: { name: string; state: string }[];
    };
    expect(status.services.find((s) => s.name === 'Revived')).toMatchObject({ state: 'running' });
    // berth status shows that failure as Revived's last backup, with the reason.
    expect(await ok(['status', ...p])).toMatch(
      /Revived\s+\S+\s+failed: pg_dump failed: .*password authentication failed/,
    );
    const skipped = await ok(['service', 'delete', '-s', 'Revived', '-y', '--skip-final-backup', ...p]);
    expect(skipped).toContain('No final backup of Revived was taken (--skip-final-backup)');
    // --delete-data removes the volume too.
    const copy = await ok([
      'service',
      'delete',
      '-s',
      'Copy',
      '-y',
      '--delete-data',
      '--skip-final-backup',
      ...p,
    ]);
    expect(copy).toContain('No final backup of Copy was taken (--skip-final-backup)');
    expect(copy).toMatch(/Deleted the volume \S+ \(--delete-data\)/);
  });
});
