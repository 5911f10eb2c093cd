import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LocalDirTarget } from '../../src/backup/local-target.js';
import { type BackupEvent, BackupScheduler } from '../../src/backup/scheduler.js';
import type { BackupSubject } from '../../src/core/backup-model.js';
import { waitFor } from '../../src/lib/wait.js';
import { needs } from '../helpers/optional-tools.js';
import { PG_BIN, type PgCluster, startCluster } from '../helpers/pg-cluster.js';
import { tempStores, thrown } from '../helpers/store.js';
import { makeTmpDir } from '../helpers/tmp.js';

const withoutPostgres = needs('postgresql', 'BackupScheduler');
const openStore = tempStores();
const tools = { binDir: PG_BIN };
const subject: BackupSubject = { serviceId: 'svc-pg', environmentId: 'env-prod' };
const DAY = 24 * 60 * 60 * 1000;

let cluster: PgCluster;
let tmp: { dir: string; cleanup: () => void };
let n = 0;
const schedulers: BackupScheduler[] = [];

beforeAll(async () => {
  if (withoutPostgres.skip) return;
  tmp = makeTmpDir('berth-schedule-');
  cluster = await startCluster();
  await cluster.createDatabase('app');
  await cluster.query('app', 'CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 100)');
});

afterEach(async () => {
  await Promise.all(schedulers.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await cluster?.stop();
  tmp?.cleanup();
});

function setup() {
  const store = openStore();
  const target = new LocalDirTarget(path.join(tmp.dir, String(n++)));
  const events: BackupEvent[] = [];
  const scheduler = new BackupScheduler({ store, target, tools, onEvent: (e) => events.push(e) });
  schedulers.push(scheduler);
  const db = { subject, connection: () => cluster.connection('app') };
  return { store, target, scheduler, events, db };
}

/** Holds an exclusive lock on t, so a pg_dump of `app` waits until it is released. */
async function lockTable(): Promise<{ release: () => Promise<void> }> {
  const holder = new pg.Client({ ...cluster.connection('app') });
  await holder.connect();
  await holder.query('BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      await holder.query('ROLLBACK').catch(() => {});
      await holder.end();
    },
  };
}

const dumpWaiting = () =>
  waitFor('pg_dump to wait for the lock', async () => {
    const rows = await cluster.query(
      'app',
      "SELECT 1 FROM pg_stat_activity WHERE application_name = 'pg_dump' AND wait_event_type = 'Lock'",
    );
    return rows.length > 0;
  });

describe.skipIf(withoutPostgres.skip)(withoutPostgres.title, () => {
  it('a database without a schedule of its own is backed up every 6 hours and keeps 30 days', () => {
    const { scheduler, db } = setup();
    scheduler.sync([db]);
    const s = scheduler.status(subject);
    expect(s.schedule).toEqual({ ...subject, cron: '0 */6 * * *', keepDays: 30 });
    const next = new Date(s.nextRunAt as string);
    expect(next.getUTCHours() % 6).toBe(0);
    expect(next.getUTCMinutes()).toBe(0);
    expect(next.getTime() - Date.now()).toBeLessThanOrEqual(6 * 60 * 60 * 1000);
    expect(s).toMatchObject({ running: false, last: null });
  });

  it('runs the backup on its cron and shows the outcome in status', async () => {
    const { store, scheduler, events, db } = setup();
    store.backups.setSchedule({ ...subject, cron: '* * * * * *', keepDays: 30 }); // every second, for the test
    scheduler.sync([db]);
    const finished = await waitFor('a scheduled backup', () => events.find((e) => e.kind === 'finished'));
    expect(finished.kind === 'finished' && finished.backup.status).toBe('verified');
    expect(scheduler.status(subject).last).toMatchObject({ status: 'verified', verified: true, error: null });
  });

  it('runs one backup at a time per database: create is refused and ticks skip while one runs; cancel ends it', async () => {
    const { store, scheduler, events, db } = setup();
    const lock = await lockTable();
    try {
      scheduler.sync([db]);
      const first = scheduler.create(subject);
      await dumpWaiting();
      expect(scheduler.status(subject).running).toBe(true);
      expect(thrown(() => scheduler.create(subject)).message).toBe(
        'A backup of this database is running; wait for it, then list it with `berth backup list`.',
      );
      store.backups.setSchedule({ ...subject, cron: '* * * * * *', keepDays: 30 });
      scheduler.sync([db]);
      const skipped = await waitFor('a skipped tick', () => events.find((e) => e.kind === 'skipped'));
      expect(skipped).toEqual({
        kind: 'skipped',
        subject,
        reason: 'The scheduled backup was skipped: the previous one is still running.',
      });
      scheduler.sync([]); // no more ticks
      expect(scheduler.cancel(subject)).toBe(true);
      expect(await first).toMatchObject({
        status: 'failed',
        error: 'The backup was cancelled before it finished.',
      });
      expect(scheduler.status(subject)).toMatchObject({
        running: false,
        last: { status: 'failed', error: 'The backup was cancelled before it finished.' },
      });
      expect(store.backups.list(subject).filter((b) => b.status === 'running')).toEqual([]);
    } finally {
      await lock.release();
    }
  });

  it('runs one backup at a time across databases by default; the next waits its turn, or is cancelled waiting', async () => {
    const { store, scheduler, db } = setup();
    const second: BackupSubject = { serviceId: 'svc-other', environmentId: 'env-prod' };
    const third: BackupSubject = { serviceId: 'svc-third', environmentId: 'env-prod' };
    const conn = () => cluster.connection('app');
    const lock = await lockTable();
    try {
      scheduler.sync([db, { subject: second, connection: conn }, { subject: third, connection: conn }]);
      const first = scheduler.create(subject);
      await dumpWaiting();
      const queued = scheduler.create(second);
      const cancelled = scheduler.create(third);
      expect(scheduler.status(second).running).toBe(true);
      expect(store.backups.list(second)).toEqual([]); // waiting: no pg_dump, no manifest row yet
      expect(scheduler.cancel(third)).toBe(true);
      expect(await cancelled).toMatchObject({
        status: 'failed',
        error: 'The backup was cancelled before it started.',
      });
      await lock.release();
      const [a, b] = await Promise.all([first, queued]);
      expect([a.status, b.status]).toEqual(['verified', 'verified']);
      expect(b.createdAt >= (a.finishedAt as string)).toBe(true);
    } finally {
      await lock.release();
    }
  });

  it('prunes past the keep window after each run', async () => {
    const { store, scheduler, db, target } = setup();
    scheduler.sync([db]);
    const old = await scheduler.create(subject);
    store.db
      .prepare('UPDATE backups SET created_at = ? WHERE id = ?')
      .run(new Date(Date.now() - 8 * DAY).toISOString(), old.id);
    scheduler.setSchedule(subject, '0 3 * * *', 7);
    const fresh = await scheduler.create(subject);
    expect(fresh.status).toBe('verified');
    expect(store.backups.list(subject).map((b) => b.id)).toEqual([fresh.id]);
    expect((await target.list('')).map((o) => o.key)).toEqual([fresh.key]);
  });

  it('a database that is not running gets a failed backup saying so, not silence', async () => {
    const { scheduler, events } = setup();
    scheduler.sync([{ subject, connection: () => null }]);
    const b = await scheduler.create(subject);
    expect(b).toMatchObject({
      status: 'failed',
      error: 'The database was not running, so no backup was taken.',
    });
    expect(events).toEqual([{ kind: 'finished', subject, backup: b, prune: { pruned: [], failed: [] } }]);
  });

  it('sets a schedule in force at once, and refuses a bad one in one sentence', () => {
    const { store, scheduler, db } = setup();
    scheduler.sync([db]);
    expect(scheduler.setSchedule(subject, ' 15  3 * * * ', 14)).toEqual({
      ...subject,
      cron: '15 3 * * *',
      keepDays: 14,
    });
    expect(store.backups.findSchedule(subject)).toEqual({ ...subject, cron: '15 3 * * *', keepDays: 14 });
    const next = new Date(scheduler.status(subject).nextRunAt as string);
    expect([next.getUTCHours(), next.getUTCMinutes()]).toEqual([3, 15]);

    expect(thrown(() => scheduler.setSchedule(subject, '* * * *', 30)).message).toBe(
      '"* * * *" is not a backup schedule (it has 4 fields, not 5); use five cron fields in UTC, like "0 */6 * * *".',
    );
    expect(thrown(() => scheduler.setSchedule(subject, '61 * * * *', 30)).message).toMatch(
      /^"61 \* \* \* \*" is not a backup schedule \(.+\); use five cron fields in UTC, like "0 \*\/6 \* \* \*"\.$/,
    );
    expect(thrown(() => scheduler.setSchedule(subject, '0 * * * *', 0)).message).toBe(
      '--keep-days must be a whole number of days from 1 to 3650, not 0.',
    );
    expect(store.backups.findSchedule(subject)?.cron).toBe('15 3 * * *');
  });

  it('create on a database that is not scheduled is a not-found sentence', () => {
    const { scheduler } = setup();
    expect(thrown(() => scheduler.create(subject)).message).toBe(
      'That database is not scheduled for backups; is it a database service that exists?',
    );
  });

  it('close cancels a running backup and waits until it is recorded', async () => {
    const { store, scheduler, db } = setup();
    const lock = await lockTable();
    try {
      scheduler.sync([db]);
      const run = scheduler.create(subject);
      await dumpWaiting();
      await scheduler.close();
      expect(store.backups.list(subject)[0]).toMatchObject({
        status: 'failed',
        error: 'The backup was cancelled before it finished.',
      });
      expect((await run).status).toBe('failed');
    } finally {
      await lock.release();
    }
  });
});
