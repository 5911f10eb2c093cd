import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalDirTarget } from '../../src/backup/local-target.js';
import { runPgDumpBackup } from '../../src/backup/pg-backup.js';
import { pruneBackups } from '../../src/backup/retention.js';
import type { BackupSubject } from '../../src/core/backup-model.js';
import type { Store } from '../../src/store/store.js';
import { needs } from '../helpers/optional-tools.js';
import { PG_BIN, type PgCluster, startCluster } from '../helpers/pg-cluster.js';
import { tempStores } from '../helpers/store.js';
import { makeTmpDir } from '../helpers/tmp.js';

const withoutPostgres = needs('postgresql', 'retention');
const openStore = tempStores();
const tools = { binDir: PG_BIN };
const subject: BackupSubject = { serviceId: 'svc-pg', environmentId: 'env-prod' };
const DAY = 24 * 60 * 60 * 1000;

let cluster: PgCluster;
let tmp: { dir: string; cleanup: () => void };
let n = 0;

beforeAll(async () => {
  if (withoutPostgres.skip) return;
  tmp = makeTmpDir('berth-retention-');
  cluster = await startCluster();
  await cluster.createDatabase('app');
  await cluster.query('app', 'CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 100)');
});

afterAll(async () => {
  await cluster?.stop();
  tmp?.cleanup();
});

function setup() {
  const root = path.join(tmp.dir, String(n++));
  return { store: openStore(), root, target: new LocalDirTarget(root) };
}

/** Sets a backup's creation time back, as if it had run `days` ago. */
function age(store: Store, id: string, days: number): void {
  store.db
    .prepare('UPDATE backups SET created_at = ? WHERE id = ?')
    .run(new Date(Date.now() - days * DAY).toISOString(), id);
}

const backup = (store: Store, target: LocalDirTarget, database = 'app') =>
  runPgDumpBackup({ store, target, tools, subject, connection: cluster.connection(database) });

describe.skipIf(withoutPostgres.skip)(withoutPostgres.title, () => {
  it('prunes archives older than the window from the target and the manifest, keeping recent ones', async () => {
    const { store, root, target } = setup();
    const old1 = await backup(store, target);
    const old2 = await backup(store, target);
    const failedOld = await backup(store, target, 'missing');
    const recent = await backup(store, target);
    expect([old1, old2, recent].map((b) => b.status)).toEqual(['verified', 'verified', 'verified']);
    expect(failedOld.status).toBe('failed');
    age(store, old1.id, 45);
    age(store, old2.id, 31);
    age(store, failedOld.id, 40);
    const other = store.backups.begin(
      { ...subject, environmentId: 'env-staging' },
      'pg_dump',
      (id) => `x/${id}`,
    );
    store.backups.markVerified(other.id, 1, 'a');
    age(store, other.id, 100);

    const r = await pruneBackups({ store, target, subject, keepDays: 30 });
    expect(r.failed).toEqual([]);
    expect(r.pruned.sort()).toEqual([old1.id, old2.id, failedOld.id].sort());
    expect(store.backups.list(subject).map((b) => b.id)).toEqual([recent.id]);
    expect((await target.list('')).map((o) => o.key)).toEqual([recent.key]);
    expect(fs.existsSync(path.join(root, ...old1.key.split('/')))).toBe(false);
    expect(store.backups.find(other.id)).not.toBeNull(); // another environment's database is not this one's
  });

  it('never prunes the newest verified archive, however old, but prunes failed ones newer than it', async () => {
    const { store, target } = setup();
    const a = await backup(store, target);
    const b = await backup(store, target);
    const failed = await backup(store, target, 'missing');
    age(store, a.id, 90);
    age(store, b.id, 60);
    age(store, failed.id, 50);
    const r = await pruneBackups({ store, target, subject, keepDays: 30 });
    expect(r.pruned.sort()).toEqual([a.id, failed.id].sort());
    expect(store.backups.list(subject).map((x) => x.id)).toEqual([b.id]);
    expect((await target.list('')).map((o) => o.key)).toEqual([b.key]);
  });

  it('keeps a running backup however old it looks', async () => {
    const { store, target } = setup();
    const running = store.backups.begin(subject, 'pg_dump', (id) => `pg_dump/svc-pg/env-prod/${id}.dump`);
    await target.put(running.key, Readable.from([Buffer.from('partial')]));
    age(store, running.id, 400);
    expect(await pruneBackups({ store, target, subject, keepDays: 1 })).toEqual({ pruned: [], failed: [] });
    expect(store.backups.find(running.id)).not.toBeNull();
  });

  it('refuses a keep window that is not a whole number of days from 1 to 3650', async () => {
    const { store, target } = setup();
    for (const bad of [0, -1, 1.5, 4000, Number.NaN]) {
      await expect(pruneBackups({ store, target, subject, keepDays: bad })).rejects.toThrow(
        `--keep-days must be a whole number of days from 1 to 3650, not ${bad}.`,
      );
    }
  });
});
