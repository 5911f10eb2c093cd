import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalDirTarget } from '../../src/backup/local-target.js';
import { walCommitsArgv } from '../../src/backup/pitr-argv.js';
import { shipSpool } from '../../src/backup/wal-archive.js';
import { shipTail, sweepTails, walTailPrefix } from '../../src/backup/wal-tail.js';
import type { BackupSubject } from '../../src/core/backup-model.js';
import { needs } from '../helpers/optional-tools.js';
import { PG_BIN, type PgCluster, startArchivingCluster } from '../helpers/pg-cluster.js';
import { tempStores } from '../helpers/store.js';
import { makeTmpDir } from '../helpers/tmp.js';

const withoutPostgres = needs('postgresql', "shipping the WAL tail of PostgreSQL's current segment");
const openStore = tempStores();
const subject: BackupSubject = { serviceId: 'svc-pg', environmentId: 'env-prod' };

let cluster: PgCluster;
let tmp: { dir: string; cleanup: () => void };
const pgdata = () => path.join(cluster.dir, 'data');
const stored = (target: string, key: string) => fs.readFileSync(path.join(target, ...key.split('/')));
const objects = (root: string) =>
  fs.existsSync(root)
    ? fs
        .readdirSync(root, { recursive: true, withFileTypes: true })
        .filter((d) => d.isFile())
        .map((d) => d.name)
    : [];

beforeAll(async () => {
  if (withoutPostgres.skip) return;
  tmp = makeTmpDir('berth-wal-tail-');
  cluster = await startArchivingCluster(['archive_timeout=0']);
  await cluster.createDatabase('app');
  await cluster.query('app', 'CREATE TABLE t (id int)');
});

afterAll(async () => {
  await cluster?.stop();
  tmp?.cleanup();
});

describe.skipIf(withoutPostgres.skip)(withoutPostgres.title, () => {
  it('stores the written part of the segment being filled, holding a commit made a moment ago', async () => {
    const store = openStore();
    const root = path.join(tmp.dir, 'first');
    const target = new LocalDirTarget(root);
    await cluster.query('app', 'INSERT INTO t SELECT g FROM generate_series(1, 500) g');
    const [{ file, offset }] = await cluster.query<{ file: string; offset: number }>(
      'app',
      'SELECT file_name AS file, file_offset AS offset FROM pg_walfile_name_offset(pg_current_wal_lsn())',
    );
    const pass = await shipTail({ store, target, subject, pgdata: pgdata() });
    expect(pass.shipped).toBe(true);
    expect(pass.current?.name).toBe(file);
    expect(pass.current?.writtenBytes).toBeGreaterThan(offset);
    const tail = store.walArchive.findTail(subject);
    expect(tail).toMatchObject({ name: file, segmentBytes: 16 * 1024 ** 2, closedAt: pass.looked });
    const bytes = gunzipSync(stored(root, tail?.key ?? ''));
    expect(bytes.length).toBe(pass.current?.writtenBytes);
    // What PostgreSQL wrote before, byte for byte (only the last page can have grown since).
    const live = fs.readFileSync(path.join(pgdata(), 'pg_wal', file));
    expect(bytes.subarray(0, bytes.length - 8192).equals(live.subarray(0, bytes.length - 8192))).toBe(true);
    // Padded to a segment, pg_waldump reads the insert's commit in it.
    const dir = path.join(tmp.dir, 'dump');
    fs.mkdirSync(dir);
    fs.writeFileSync(
      path.join(dir, file),
      Buffer.concat([bytes, Buffer.alloc(16 * 1024 ** 2 - bytes.length)]),
    );
    const argv = walCommitsArgv({ binDir: PG_BIN }, path.join(dir, file));
    const dump = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', env: { TZ: 'UTC' } });
    expect(dump.stdout).toMatch(/desc: COMMIT \d{4}-/);
  });

  it('stores nothing again while nothing is written, and replaces its tail (old object gone) once something is', async () => {
    const store = openStore();
    const root = path.join(tmp.dir, 'again');
    const target = new LocalDirTarget(root);
    await shipTail({ store, target, subject, pgdata: pgdata() });
    const first = store.walArchive.findTail(subject);
    const idle = await shipTail({ store, target, subject, pgdata: pgdata() });
    // Background writers may add a record meanwhile; unless one did, the pass stored nothing.
    if (!idle.shipped) expect(store.walArchive.findTail(subject)?.key).toBe(first?.key);
    await cluster.query('app', 'INSERT INTO t VALUES (1000)');
    const next = await shipTail({ store, target, subject, pgdata: pgdata() });
    expect(next.shipped).toBe(true);
    const second = store.walArchive.findTail(subject);
    expect(second?.key).not.toBe(first?.key);
    expect(objects(root)).toEqual([path.basename(second?.key ?? '')]);
  });

  it('sweeps the tails a killed daemon left unrecorded, keeping the recorded one', async () => {
    const store = openStore();
    const root = path.join(tmp.dir, 'sweep');
    const target = new LocalDirTarget(root);
    await cluster.query('app', 'INSERT INTO t VALUES (3000)');
    await shipTail({ store, target, subject, pgdata: pgdata() });
    const recorded = store.walArchive.findTail(subject)?.key ?? '';
    const orphan = `${walTailPrefix(subject)}000000010000000000000001-8192-0123456789abcdef.gz`;
    await target.put(orphan, Readable.from([Buffer.from('left by a killed daemon')]));
    expect(await sweepTails({ store, target, subject })).toBe(1);
    expect((await target.list(walTailPrefix(subject))).map((o) => o.key)).toEqual([recorded]);
  });

  it('drops the tail once its segment is archived whole', async () => {
    const store = openStore();
    const root = path.join(tmp.dir, 'switched');
    const target = new LocalDirTarget(root);
    await cluster.query('app', 'INSERT INTO t VALUES (2000)');
    await shipTail({ store, target, subject, pgdata: pgdata() });
    const before = store.walArchive.findTail(subject);
    await cluster.query('app', 'SELECT pg_switch_wal()');
    const spool = path.join(cluster.dir, 'spool');
    for (let i = 0; i < 200 && !fs.readdirSync(spool).includes(before?.name ?? ''); i++) {
      await new Promise((r) => setTimeout(r, 50)); // the archiver copies the finished segment
    }
    await shipSpool({ store, target, subject, spool });
    expect(store.walArchive.hasWal(subject, before?.name ?? '')).toBe(true);
    await shipTail({ store, target, subject, pgdata: pgdata() });
    const after = store.walArchive.findTail(subject);
    // Either nothing was written since (no tail) or the next segment's tail: never the archived one's.
    expect(after?.name ?? null).not.toBe(before?.name);
    expect(objects(path.join(root, 'wal', subject.serviceId, subject.environmentId, 'tail'))).toEqual(
      after ? [path.basename(after.key)] : [],
    );
  });
});

describe.skipIf(withoutPostgres.skip)('security: WAL tail shipping and a tenant’s links', () => {
  /** A pgdata the tenant (uid of `postgres`) owns, with a copy of a real segment someone else owns. */
  function plantedData(name: string): { pgdata: string; wal: string; segment: string } {
    const owner = fs.statSync(cluster.dir);
    const data = path.join(tmp.dir, name);
    const wal = path.join(data, 'pg_wal');
    fs.mkdirSync(wal, { recursive: true });
    fs.chownSync(data, owner.uid, owner.gid);
    fs.chownSync(wal, owner.uid, owner.gid);
    const live = fs
      .readdirSync(path.join(pgdata(), 'pg_wal'))
      .filter((n) => /^[0-9A-F]{24}$/.test(n))
      .sort();
    const segment = live[live.length - 1];
    const secret = path.join(tmp.dir, `${name}-root-owned-${segment}`);
    fs.copyFileSync(path.join(pgdata(), 'pg_wal', segment), secret);
    return { pgdata: data, wal, segment: secret };
  }

  it("a symlink in pg_wal to another owner's segment ships nothing of it", async () => {
    const store = openStore();
    const root = path.join(tmp.dir, 'linked');
    const { pgdata, wal, segment } = plantedData('linked-data');
    fs.symlinkSync(segment, path.join(wal, path.basename(segment).slice(-24)));
    await expect(shipTail({ store, target: new LocalDirTarget(root), subject, pgdata })).rejects.toThrow();
    expect(objects(root)).toEqual([]);
    expect(store.walArchive.findTail(subject)).toBeNull();
  });

  it("a hard link (or copy) of a segment pg_wal's owner does not own ships nothing of it", async () => {
    const store = openStore();
    const root = path.join(tmp.dir, 'foreign');
    const { pgdata, wal, segment } = plantedData('foreign-data');
    fs.linkSync(segment, path.join(wal, path.basename(segment).slice(-24)));
    await expect(shipTail({ store, target: new LocalDirTarget(root), subject, pgdata })).rejects.toThrow(
      "is not a regular file of the database's own",
    );
    expect(objects(root)).toEqual([]);
  });

  it('pg_wal swapped for a symlink to another directory ships nothing', async () => {
    const store = openStore();
    const root = path.join(tmp.dir, 'swapped');
    const { pgdata, wal } = plantedData('swapped-data');
    fs.rmSync(wal, { recursive: true });
    fs.symlinkSync(path.join(cluster.dir, 'data', 'pg_wal'), wal);
    await expect(shipTail({ store, target: new LocalDirTarget(root), subject, pgdata })).rejects.toThrow(
      'is not a directory (a symlink?)',
    );
    expect(objects(root)).toEqual([]);
  });

  it("pgdata swapped for a symlink to another database's pgdata ships nothing of its WAL", async () => {
    const store = openStore();
    const root = path.join(tmp.dir, 'borrowed');
    const volume = path.join(tmp.dir, 'borrowed-volume');
    fs.mkdirSync(volume);
    fs.symlinkSync(pgdata(), path.join(volume, 'pgdata'));
    await expect(
      shipTail({ store, target: new LocalDirTarget(root), subject, pgdata: path.join(volume, 'pgdata') }),
    ).rejects.toThrow('is not a directory (a symlink?)');
    expect(objects(root)).toEqual([]);
    expect(store.walArchive.findTail(subject)).toBeNull();
  });
});
