import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBaseBackup } from '../../src/backup/base-backup.js';
import { LocalDirTarget } from '../../src/backup/local-target.js';
import { recoverySpans } from '../../src/backup/pitr-window.js';
import { shipSpool } from '../../src/backup/wal-archive.js';
import type { BackupSubject } from '../../src/core/backup-model.js';
import { needs } from '../helpers/optional-tools.js';
import { PG_BIN, type PgCluster, startArchivingCluster } from '../helpers/pg-cluster.js';
import { tempStores } from '../helpers/store.js';
import { makeTmpDir } from '../helpers/tmp.js';

const withoutPostgres = needs('postgresql', 'base backups and WAL shipping for point-in-time restore');
const openStore = tempStores();
const tools = { binDir: PG_BIN };
const subject: BackupSubject = { serviceId: 'svc-pg', environmentId: 'env-prod' };

let cluster: PgCluster;
let tmp: { dir: string; cleanup: () => void };

beforeAll(async () => {
  if (withoutPostgres.skip) return;
  tmp = makeTmpDir('berth-base-backup-');
  cluster = await startArchivingCluster();
  await cluster.createDatabase('app');
  await cluster.query('app', 'CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g');
});

afterAll(async () => {
  await cluster?.stop();
  tmp?.cleanup();
});

describe.skipIf(withoutPostgres.skip)(withoutPostgres.title, () => {
  it('stores a verified base backup, then the spool ships its WAL and backup history: a usable span', async () => {
    const store = openStore();
    const target = new LocalDirTarget(path.join(tmp.dir, 'ok'));
    const b = await runBaseBackup({ store, target, tools, subject, connection: cluster.admin });
    expect(b.error).toBeNull();
    expect(b).toMatchObject({ status: 'verified', startWal: expect.stringMatching(/^[0-9A-F]{24}$/) });
    const bytes = fs.readFileSync(path.join(tmp.dir, 'ok', ...b.key.split('/')));
    expect(b.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(bytes.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b])); // gzip

    const spool = path.join(cluster.dir, 'spool');
    const r = await shipSpool({ store, target, subject, spool });
    expect(r).toMatchObject({ waiting: 0, error: null });
    expect(r.shipped).toBeGreaterThanOrEqual(2);
    expect(fs.readdirSync(spool).filter((n) => /^[0-9A-F]{24}/.test(n))).toEqual([]);
    const names = store.walArchive.listWal(subject).map((f) => f.name);
    expect(names.some((n) => n.endsWith('.backup'))).toBe(true);
    const ended = store.walArchive.getBase(b.id);
    expect(ended.endWal).toMatch(/^[0-9A-F]{24}$/);
    const spans = recoverySpans(store.walArchive.listBases(subject), store.walArchive.listWal(subject));
    expect(spans.map((s) => s.base.id)).toEqual([b.id]);
  });

  it('drops the oldest WAL files past the spool cap (an unreachable target shortens the window, never fills the disk)', async () => {
    const store = openStore();
    const target = new LocalDirTarget(path.join(tmp.dir, 'capped'));
    const spool = path.join(tmp.dir, 'capped-spool');
    fs.mkdirSync(spool);
    const seg = (n: number) => `00000001000000000000000${n}`;
    for (const n of [1, 2, 3]) fs.writeFileSync(path.join(spool, seg(n)), Buffer.alloc(1024, n));
    fs.writeFileSync(path.join(spool, '00000002.history'), '1\t0/3000000\tno recovery target specified\n');
    const r = await shipSpool({ store, target, subject, spool, capBytes: 1500 });
    expect(r).toMatchObject({ dropped: 2, shipped: 2, waiting: 0, error: null });
    expect(store.walArchive.listWal(subject).map((f) => f.name)).toEqual(
      ['00000001000000000000000' + '3', '00000002.history'].sort(),
    );
    expect(fs.readdirSync(spool)).toEqual([]);
  });

  it('ships one database’s backlog over several passes when a pass has a budget (at least one file each)', async () => {
    const store = openStore();
    const target = new LocalDirTarget(path.join(tmp.dir, 'budget'));
    const spool = path.join(tmp.dir, 'budget-spool');
    fs.mkdirSync(spool);
    for (const n of [1, 2, 3])
      fs.writeFileSync(path.join(spool, `00000001000000000000000${n}`), Buffer.alloc(1024, n));
    const first = await shipSpool({ store, target, subject, spool, budgetMs: 0 });
    expect(first).toMatchObject({ shipped: 1, waiting: 2, error: null });
    expect(await shipSpool({ store, target, subject, spool, budgetMs: 0 })).toMatchObject({
      shipped: 1,
      waiting: 1,
    });
    expect(await shipSpool({ store, target, subject, spool })).toMatchObject({ shipped: 1, waiting: 0 });
    expect(store.walArchive.listWal(subject).map((f) => f.name.slice(-1))).toEqual(['1', '2', '3']);
  });

  it('attack: a giant file planted in the spool under a WAL name is removed, not gzipped into the archive', async () => {
    const store = openStore();
    const target = new LocalDirTarget(path.join(tmp.dir, 'giant'));
    const spool = path.join(tmp.dir, 'giant-spool');
    fs.mkdirSync(spool);
    const giant = '000000010000000000000007';
    fs.writeFileSync(path.join(spool, giant), '');
    fs.truncateSync(path.join(spool, giant), 65 * 1024 ** 2); // sparse: 65 MB on paper
    fs.writeFileSync(path.join(spool, '000000010000000000000008'), Buffer.alloc(1024, 8));
    const r = await shipSpool({ store, target, subject, spool });
    expect(r).toMatchObject({ shipped: 1, waiting: 0 });
    expect(r.error).toBe(
      `The spool held 1 file(s) named like WAL but larger than any WAL file (${giant}): not PostgreSQL's, so they were removed, not shipped.`,
    );
    expect(store.walArchive.listWal(subject).map((f) => f.name)).toEqual(['000000010000000000000008']);
    expect(fs.readdirSync(spool)).toEqual([]);
  });

  it('a symlink planted in the spool (or as the spool) is never followed: the file it names is not shipped', async () => {
    const store = openStore();
    const target = new LocalDirTarget(path.join(tmp.dir, 'planted'));
    const secret = path.join(tmp.dir, 'other-tenant-secret');
    fs.writeFileSync(secret, 'another database’s data');
    const spool = path.join(tmp.dir, 'planted-spool');
    fs.mkdirSync(spool);
    const name = '000000010000000000000009';
    fs.symlinkSync(secret, path.join(spool, name));
    const r = await shipSpool({ store, target, subject, spool });
    expect(r).toMatchObject({ shipped: 0, waiting: 1 });
    expect(r.error).toContain(name);
    expect(store.walArchive.listWal(subject)).toEqual([]);

    const elsewhere = path.join(tmp.dir, 'elsewhere');
    fs.mkdirSync(elsewhere);
    fs.writeFileSync(path.join(elsewhere, name), 'another database’s WAL');
    const swapped = path.join(tmp.dir, 'swapped-spool');
    fs.symlinkSync(elsewhere, swapped);
    const s = await shipSpool({ store, target, subject, spool: swapped });
    expect(s).toMatchObject({ shipped: 0 });
    expect(s.error).toMatch(/is not a directory/);
    expect(store.walArchive.listWal(subject)).toEqual([]);
    expect(fs.existsSync(path.join(elsewhere, name))).toBe(true);
  });

  it('records a refused login with pg_basebackup’s reason, and stores nothing', async () => {
    const store = openStore();
    const root = path.join(tmp.dir, 'refused');
    const target = new LocalDirTarget(root);
    const b = await runBaseBackup({
      store,
      target,
      tools,
      subject,
      connection: { ...cluster.admin, password: 'wrong' },
    });
    expect(b.status).toBe('failed');
    expect(b.error).toMatch(/^pg_basebackup failed: .*password authentication failed for user "berth"/);
    expect(await target.list('')).toEqual([]);
  });

  it('a cancel and a timeout stop pg_basebackup and say which it was', async () => {
    const store = openStore();
    const target = new LocalDirTarget(path.join(tmp.dir, 'stopped'));
    const cancel = new AbortController();
    const running = runBaseBackup({
      store,
      target,
      tools,
      subject,
      connection: cluster.admin,
      signal: cancel.signal,
    });
    cancel.abort();
    expect((await running).error).toBe('The base backup was cancelled before it finished.');
    const slow = await runBaseBackup({
      store,
      target,
      tools,
      subject,
      connection: cluster.admin,
      timeoutMs: 50,
    });
    expect(slow.error).toBe('The base backup took longer than 0.1 s and was stopped.');
    expect(await target.list('')).toEqual([]);
  });
});
