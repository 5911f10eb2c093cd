import { describe, expect, it } from 'vitest';
import type { BackupSubject } from '../../src/core/backup-model.js';
import { NotFoundError } from '../../src/core/errors.js';
import { tempStores, thrown } from '../helpers/store.js';

const openStore = tempStores();
const db: BackupSubject = { serviceId: 'svc-1', environmentId: 'env-1' };
const other: BackupSubject = { serviceId: 'svc-1', environmentId: 'env-2' };
const keyOf = (id: string) => `pg/${id}.dump`;

describe('store.backups (the manifest)', () => {
  it('records a run as running, then verified with its size and checksum', () => {
    const store = openStore();
    const b = store.backups.begin(db, 'pg_dump', keyOf);
    expect(b).toMatchObject({
      ...db,
      kind: 'pg_dump',
      status: 'running',
      key: `pg/${b.id}.dump`,
      verified: false,
    });
    expect(b.finishedAt).toBeNull();
    const v = store.backups.markVerified(b.id, 1234, 'ab'.repeat(32));
    expect(v).toMatchObject({
      status: 'verified',
      verified: true,
      sizeBytes: 1234,
      sha256: 'ab'.repeat(32),
      error: null,
    });
    expect(v.finishedAt).not.toBeNull();
  });

  it('keeps what was written when a later check fails it, and says why', () => {
    const store = openStore();
    const b = store.backups.begin(db, 'pg_dump', keyOf);
    store.backups.markVerified(b.id, 10, 'cd'.repeat(32));
    const f = store.backups.markFailed(b.id, 'The archive is 9 bytes in the target, 10 were written.');
    expect(f).toMatchObject({ status: 'failed', verified: false, sizeBytes: 10, sha256: 'cd'.repeat(32) });
    expect(f.error).toBe('The archive is 9 bytes in the target, 10 were written.');
  });

  it('lists one database newest first, and finds its latest outcome and newest verified archive', () => {
    const store = openStore();
    const a = store.backups.begin(db, 'pg_dump', keyOf);
    store.backups.markVerified(a.id, 1, 'a');
    const b = store.backups.begin(db, 'pg_dump', keyOf);
    store.backups.markFailed(b.id, 'pg_dump failed.');
    const c = store.backups.begin(db, 'pg_dump', keyOf);
    store.backups.begin(other, 'pg_dump', keyOf);
    expect(store.backups.list(db).map((x) => x.id)).toEqual([c.id, b.id, a.id]);
    expect(store.backups.findLatestFinished(db)?.id).toBe(b.id);
    expect(store.backups.findNewestVerified(db)?.id).toBe(a.id);
    expect(store.backups.findNewestVerified({ serviceId: 'nope', environmentId: 'env-1' })).toBeNull();
  });

  it('lists finished backups older than a cutoff, never running ones', () => {
    const store = openStore();
    const old = store.backups.begin(db, 'pg_dump', keyOf);
    store.backups.markVerified(old.id, 1, 'a');
    const oldRunning = store.backups.begin(db, 'pg_dump', keyOf);
    const fresh = store.backups.begin(db, 'pg_dump', keyOf);
    store.backups.markVerified(fresh.id, 1, 'a');
    const past = '2020-01-01T00:00:00.000Z';
    store.db.prepare('UPDATE backups SET created_at = ? WHERE id IN (?, ?)').run(past, old.id, oldRunning.id);
    expect(store.backups.listFinishedBefore(db, '2021-01-01T00:00:00.000Z').map((x) => x.id)).toEqual([
      old.id,
    ]);
  });

  it('fails what a previous daemon left running, with the reason', () => {
    const store = openStore();
    const a = store.backups.begin(db, 'pg_dump', keyOf);
    const done = store.backups.begin(db, 'pg_dump', keyOf);
    store.backups.markVerified(done.id, 1, 'a');
    expect(store.backups.listRunning().map((x) => x.id)).toEqual([a.id]);
    expect(store.backups.failRunning('The daemon stopped while this backup ran.')).toBe(1);
    expect(store.backups.listRunning()).toEqual([]);
    expect(store.backups.get(a.id)).toMatchObject({
      status: 'failed',
      error: 'The daemon stopped while this backup ran.',
    });
    expect(store.backups.get(done.id).status).toBe('verified');
  });

  it('get throws a not-found sentence naming the command to list backups; find answers null', () => {
    const store = openStore();
    expect(store.backups.find('missing')).toBeNull();
    const err = thrown(() => store.backups.get('missing'));
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toBe('Backup "missing" does not exist; list them with `berth backup list`.');
    const b = store.backups.begin(db, 'pg_dump', keyOf);
    store.backups.delete(b.id);
    expect(store.backups.find(b.id)).toBeNull();
  });

  it('keeps one schedule per database, replaced whole', () => {
    const store = openStore();
    expect(store.backups.findSchedule(db)).toBeNull();
    store.backups.setSchedule({ ...db, cron: '0 */6 * * *', keepDays: 30 });
    store.backups.setSchedule({ ...db, cron: '15 3 * * *', keepDays: 7 });
    expect(store.backups.findSchedule(db)).toEqual({ ...db, cron: '15 3 * * *', keepDays: 7 });
    expect(store.backups.findSchedule(other)).toBeNull();
    store.backups.deleteSchedule(db);
    expect(store.backups.findSchedule(db)).toBeNull();
  });
});
