import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalDirTarget } from '../../src/backup/local-target.js';
import { pruneDeletedDatabases, pruneDeletedWalArchives } from '../../src/backup/retention.js';
import type { BackupSubject } from '../../src/core/backup-model.js';
import type { Store } from '../../src/store/store.js';
import { seedPostgres, tempStores } from '../helpers/store.js';
import { makeTmpDir } from '../helpers/tmp.js';

const openStore = tempStores();
const tmp = makeTmpDir('berth-deleted-retention-');
afterAll(() => tmp.cleanup());
const DAY = 24 * 60 * 60 * 1000;
let n = 0;

/** An archive in the target and its verified manifest row, created `daysAgo` before now. */
async function archive(store: Store, target: LocalDirTarget, subject: BackupSubject, daysAgo: number) {
  const b = store.backups.begin(subject, 'pg_dump', (id) => `pg_dump/${subject.serviceId}/${id}.dump`);
  const { sizeBytes } = await target.put(b.key, Readable.from([Buffer.from(`archive ${b.id}`)]));
  store.backups.markVerified(b.id, sizeBytes, 'f'.repeat(64));
  store.db
    .prepare('UPDATE backups SET created_at = ? WHERE id = ?')
    .run(new Date(Date.now() - daysAgo * DAY).toISOString(), b.id);
  return b;
}

/** A PostgreSQL service that exists: its subject. */
function liveDatabase(store: Store): BackupSubject {
  const { service, environment } = seedPostgres(store, 'Live');
  return { serviceId: service.id, environmentId: environment.id };
}

function setup() {
  const store = openStore();
  const target = new LocalDirTarget(path.join(tmp.dir, String(n++)));
  return { store, target };
}

describe("the daily sweep of deleted databases' backups", () => {
  it('keeps them for the keep window the database had, counted from the deletion, then prunes all of them', async () => {
    const { store, target } = setup();
    const gone = { serviceId: 'svc-gone', environmentId: 'env-1' };
    const older = await archive(store, target, gone, 20);
    const final = await archive(store, target, gone, 6);
    const deletedAt = new Date(Date.now() - 6 * DAY).toISOString();
    store.backups.recordDeleted({ ...gone, name: 'Postgres', engine: 'postgres', keepDays: 7, deletedAt });

    const early = await pruneDeletedDatabases({ store, target });
    expect(early).toEqual({ pruned: [], failed: [], databases: 0 });
    expect(store.backups.list(gone).map((b) => b.id)).toEqual([final.id, older.id]);
    expect(store.backups.findDeletedByName('env-1', 'Postgres')).toMatchObject({ keepDays: 7, deletedAt });

    const later = await pruneDeletedDatabases({ store, target, now: new Date(Date.now() + 2 * DAY) });
    expect(later.pruned.sort()).toEqual([older.id, final.id].sort());
    expect(later.databases).toBe(1);
    expect(store.backups.list(gone)).toEqual([]);
    expect(await target.list('')).toEqual([]);
    expect(store.backups.findDeletedByName('env-1', 'Postgres')).toBeNull();
  });

  it('never touches a database that exists (its own retention keeps its newest archive however old)', async () => {
    const { store, target } = setup();
    const live = liveDatabase(store);
    const b = await archive(store, target, live, 400);
    // Even a stale deletion record (a deletion that failed after it was recorded) does not make it prunable.
    store.backups.recordDeleted({
      ...live,
      name: 'Live',
      engine: 'postgres',
      keepDays: 1,
      deletedAt: '2020-01-01T00:00:00.000Z',
    });
    const r = await pruneDeletedDatabases({ store, target, now: new Date(Date.now() + 1000 * DAY) });
    expect(r.pruned).toEqual([]);
    expect(store.backups.list(live).map((x) => x.id)).toEqual([b.id]);
  });

  it('a database deleted before deletions were recorded counts from its newest archive, with its schedule or 30 days', async () => {
    const { store, target } = setup();
    const legacy = { serviceId: 'svc-legacy', environmentId: 'env-1' };
    const withSchedule = { serviceId: 'svc-scheduled', environmentId: 'env-1' };
    const a = await archive(store, target, legacy, 29);
    const s = await archive(store, target, withSchedule, 11);
    store.backups.setSchedule({ ...withSchedule, cron: '0 * * * *', keepDays: 10 });
    const r = await pruneDeletedDatabases({ store, target });
    expect(r.pruned).toEqual([s.id]);
    expect(store.backups.findSchedule(withSchedule)).toBeNull();
    expect(store.backups.list(legacy).map((x) => x.id)).toEqual([a.id]);
    const r2 = await pruneDeletedDatabases({ store, target, now: new Date(Date.now() + 2 * DAY) });
    expect(r2.pruned).toEqual([a.id]);
  });
});

describe("the daily sweep of deleted databases' point-in-time archives", () => {
  /** A base backup, two WAL files and a tail of `subject` in the target and the manifest, `daysAgo` old. */
  async function pitrArchive(store: Store, target: LocalDirTarget, subject: BackupSubject, daysAgo: number) {
    const at = new Date(Date.now() - daysAgo * DAY).toISOString();
    const put = (key: string) => target.put(key, Readable.from([Buffer.from(key)]));
    const base = store.walArchive.beginBase(subject, (id) => `base/${subject.serviceId}/${id}.tar.gz`);
    await put(base.key);
    store.walArchive.markBaseVerified(base.id, {
      startWal: '000000010000000000000002',
      sizeBytes: 1,
      sha256: 'x',
    });
    for (const name of ['000000010000000000000002', '000000010000000000000003']) {
      const key = `wal/${subject.serviceId}/${subject.environmentId}/${name}.gz`;
      await put(key);
      store.walArchive.recordWal({ ...subject, name, key, sizeBytes: 1, sha256: 'x', closedAt: at });
    }
    const tailKey = `wal/${subject.serviceId}/${subject.environmentId}/tail/000000010000000000000004-8192-x.gz`;
    await put(tailKey);
    store.walArchive.setTail({
      ...subject,
      name: '000000010000000000000004',
      key: tailKey,
      sizeBytes: 1,
      sha256: 'x',
      closedAt: at,
      segmentBytes: 16 * 1024 ** 2,
    });
    store.db.prepare('UPDATE base_backups SET created_at = ? WHERE id = ?').run(at, base.id);
  }

  it('keeps a deleted database’s archive for its restore window from the deletion, then removes all of it', async () => {
    const { store, target } = setup();
    const gone = { serviceId: 'svc-gone-pitr', environmentId: 'env-1' };
    await pitrArchive(store, target, gone, 3);
    store.walArchive.setSettings({ ...gone, baseCron: '5 3 * * *', windowDays: 7, tailSeconds: 1 });
    // A tail a killed daemon stored without recording it goes too.
    const orphan = `wal/${gone.serviceId}/${gone.environmentId}/tail/000000010000000000000003-8192-y.gz`;
    await target.put(orphan, Readable.from([Buffer.from('orphan')]));
    store.backups.recordDeleted({
      ...gone,
      name: 'Postgres',
      engine: 'postgres',
      keepDays: 30,
      deletedAt: new Date(Date.now() - 3 * DAY).toISOString(),
    });
    expect(await pruneDeletedWalArchives({ store, target })).toEqual({ databases: 0, files: 0, failed: [] });
    expect((await target.list('')).length).toBe(5);

    const later = await pruneDeletedWalArchives({ store, target, now: new Date(Date.now() + 5 * DAY) });
    expect(later).toEqual({ databases: 1, files: 3, failed: [] });
    expect(await target.list('')).toEqual([]);
    expect(store.walArchive.listBases(gone)).toEqual([]);
    expect(store.walArchive.listWal(gone)).toEqual([]);
    expect(store.walArchive.findTail(gone)).toBeNull();
    expect(store.walArchive.findSettings(gone)).toBeNull();
    expect(store.walArchive.subjectsWithoutDatabase()).toEqual([]);
  });

  it('a sweep stopped midway (the server stopping) deletes nothing more, and the next sweep removes the rest', async () => {
    const { store, target } = setup();
    const gone = { serviceId: 'svc-stopped', environmentId: 'env-1' };
    await pitrArchive(store, target, gone, 30);
    const stop = new AbortController();
    const del = target.delete.bind(target);
    target.delete = async (key: string) => {
      await del(key);
      stop.abort(); // the server stops while the first object is deleted
    };
    const stopped = await pruneDeletedWalArchives({ store, target, signal: stop.signal });
    expect(stopped).toEqual({ databases: 0, files: 0, failed: [] });
    // The tail went (object and row); both WAL files and the base backup wait, each with its row.
    expect(store.walArchive.findTail(gone)).toBeNull();
    expect(store.walArchive.listWal(gone).length).toBe(2);
    expect((await target.list('')).length).toBe(3);

    target.delete = del;
    expect(await pruneDeletedWalArchives({ store, target })).toEqual({ databases: 1, files: 3, failed: [] });
    expect(await target.list('')).toEqual([]);
    expect(store.walArchive.subjectsWithoutDatabase()).toEqual([]);
  });

  it('never touches a live database’s archive, and counts a deletion it has no record of from the newest file', async () => {
    const { store, target } = setup();
    const live = liveDatabase(store);
    await pitrArchive(store, target, live, 400);
    const legacy = { serviceId: 'svc-legacy-pitr', environmentId: 'env-1' };
    await pitrArchive(store, target, legacy, 6);
    expect((await pruneDeletedWalArchives({ store, target })).databases).toBe(0);
    const r = await pruneDeletedWalArchives({ store, target, now: new Date(Date.now() + 2 * DAY) });
    expect(r.databases).toBe(1);
    expect(store.walArchive.listWal(legacy)).toEqual([]);
    expect(store.walArchive.listWal(live).length).toBe(2);
    expect(store.walArchive.findTail(live)).not.toBeNull();
  });
});
