import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalDirTarget } from '../../src/backup/local-target.js';
import {
  findRedisTools,
  keysRead,
  redisCheckRdbArgv,
  redisRdbArgv,
  redisToolEnv,
} from '../../src/backup/redis-argv.js';
import { rdbArchiveKey, runRedisRdbBackup } from '../../src/backup/redis-backup.js';
import { rdbDamage, verifyRedisBackup } from '../../src/backup/redis-check.js';
import type { BackupSubject } from '../../src/core/backup-model.js';
import { placeSnapshot, putBack, rdbLayout, setAside } from '../../src/data/redis/restore-files.js';
import type { Store } from '../../src/store/store.js';
import { needs } from '../helpers/optional-tools.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { tempStores } from '../helpers/store.js';
import { makeTmpDir } from '../helpers/tmp.js';

const tools = { cli: '/usr/bin/redis-cli', checkRdb: '/usr/bin/redis-check-rdb' };
const conn = { host: '10.1.2.3', port: 6379, user: 'default', password: 's3cret' };

describe('Redis backup commands (pure)', () => {
  it('redis-cli --rdb writes to a file, the password only in REDISCLI_AUTH', () => {
    expect(redisRdbArgv(tools, conn, '/w/snapshot.rdb')).toEqual([
      '/usr/bin/redis-cli',
      '-h',
      '10.1.2.3',
      '-p',
      '6379',
      '--user',
      'default',
      '--rdb',
      '/w/snapshot.rdb',
    ]);
    expect(redisToolEnv('s3cret')).toEqual({ PATH: '/usr/bin:/bin', LANG: 'C', REDISCLI_AUTH: 's3cret' });
    expect(redisToolEnv(null)).toEqual({ PATH: '/usr/bin:/bin', LANG: 'C' });
    expect(redisCheckRdbArgv(tools, '/w/stored.rdb')).toEqual(['/usr/bin/redis-check-rdb', '/w/stored.rdb']);
  });

  it("reads redis-check-rdb's key count and its damage report", () => {
    expect(keysRead('[offset 187] \\o/ RDB looks OK! \\o/\n[info] 1000 keys read\n')).toBe(1000);
    expect(
      rdbDamage(
        '--- RDB ERROR DETECTED ---\n[offset 187] RDB CRC error\n[additional info] While doing: check-sum\n',
      ),
    ).toBe('RDB CRC error at byte 187 (while reading its check-sum).');
  });

  it('lays a snapshot out as dump.rdb and as the base of a fresh AOF (Redis 7), or an RDB-preamble AOF (6)', () => {
    expect(rdbLayout(7)).toEqual({
      dirs: ['appendonlydir'],
      copies: ['dump.rdb', 'appendonlydir/appendonly.aof.1.base.rdb'],
      files: [
        {
          path: 'appendonlydir/appendonly.aof.manifest',
          text: 'file appendonly.aof.1.base.rdb seq 1 type b\n',
        },
      ],
    });
    expect(rdbLayout(6)).toEqual({ dirs: [], copies: ['dump.rdb', 'appendonly.aof'], files: [] });
  });

  it('an in-place restore sets the data aside whole and can put it back exactly', () => {
    const t = makeTmpDir('berth-rdb-layout-');
    try {
      const volume = path.join(t.dir, 'volume');
      fs.mkdirSync(path.join(volume, 'appendonlydir'), { recursive: true });
      fs.writeFileSync(path.join(volume, 'dump.rdb'), 'old rdb');
      fs.writeFileSync(path.join(volume, 'appendonlydir', 'appendonly.aof.3.incr.aof'), 'old aof');
      fs.writeFileSync(path.join(volume, 'redis.conf'), 'conf');
      const snapshot = path.join(t.dir, 'snapshot.rdb');
      fs.writeFileSync(snapshot, 'REDIS0010 new');
      const aside = path.join(volume, 'restore-previous');
      expect(setAside(volume, aside)).toEqual(['dump.rdb', 'appendonlydir']);
      placeSnapshot(volume, snapshot, 7, null);
      expect(fs.readFileSync(path.join(volume, 'dump.rdb'), 'utf8')).toBe('REDIS0010 new');
      expect(fs.readdirSync(path.join(volume, 'appendonlydir')).sort()).toEqual([
        'appendonly.aof.1.base.rdb',
        'appendonly.aof.manifest',
      ]);
      expect(fs.readFileSync(path.join(volume, 'appendonlydir', 'appendonly.aof.1.base.rdb'), 'utf8')).toBe(
        'REDIS0010 new',
      );
      expect(fs.statSync(path.join(volume, 'dump.rdb')).mode & 0o777).toBe(0o600);
      putBack(volume, aside);
      expect(fs.readFileSync(path.join(volume, 'dump.rdb'), 'utf8')).toBe('old rdb');
      expect(fs.readdirSync(path.join(volume, 'appendonlydir'))).toEqual(['appendonly.aof.3.incr.aof']);
      expect(fs.readFileSync(path.join(volume, 'redis.conf'), 'utf8')).toBe('conf');
      expect(fs.existsSync(aside)).toBe(false);
    } finally {
      t.cleanup();
    }
  });

  it('names archives by kind, database and time', () => {
    const key = rdbArchiveKey({ serviceId: 's1', environmentId: 'e1' }, 'id-1', '2026-12-07T01:02:03.456Z');
    expect(key).toBe('redis_rdb/s1/e1/20261207T010203Z-id-1.rdb');
  });
});

const suite = needs('redis-server', 'Redis RDB backups to a target, verified');
const openStore = tempStores();
const subject: BackupSubject = { serviceId: 'svc-redis', environmentId: 'env-prod' };
const PASSWORD = 'backup-test-password';

/** A target whose disk flips one byte of what it is given: the upload arrives changed. */
class FlippingTarget extends LocalDirTarget {
  override put(key: string, body: Readable) {
    let flipped = false;
    const flip = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        const copy = Buffer.from(chunk);
        if (!flipped && copy.length > 40) {
          copy[40] ^= 0xff;
          flipped = true;
        }
        cb(null, copy);
      },
    });
    return super.put(key, body.pipe(flip));
  }
}

describe.skipIf(suite.skip)(suite.title, () => {
  let redis: TestRedis;
  let tmp: { dir: string; cleanup: () => void };
  const connection = () => ({ host: '127.0.0.1', port: redis.port, user: 'default', password: PASSWORD });

  beforeAll(async () => {
    tmp = makeTmpDir('berth-redis-backup-');
    redis = await startRedis();
    const pipe = redis.client.pipeline();
    for (let i = 0; i < 1000; i++) pipe.set(`key:${i}`, `value ${i} ${'x'.repeat(i % 50)}`);
    pipe.hset('a-hash', { f: '1', g: '2' });
    await pipe.exec();
    // As Berth's own Redis runs (data/redis/argv.ts): a snapshot is sent at once, not after 5 s.
    await redis.client.config('SET', 'repl-diskless-sync-delay', '0');
    await redis.client.config('SET', 'requirepass', PASSWORD);
  });
  afterAll(async () => {
    await redis?.stop();
    tmp?.cleanup();
  });

  const setup = () => ({
    store: openStore(),
    root: path.join(tmp.dir, randomBytes(4).toString('hex')),
  });
  /** One backup of the test Redis into target, recorded in store. */
  const backUp = (store: Store, target: LocalDirTarget, conn = connection()) =>
    runRedisRdbBackup({ store, target, subject, connection: conn, tools: findRedisTools() });

  it('a snapshot is stored, read back and checked: verified, with its size and SHA-256 recorded', async () => {
    const { store, root } = setup();
    const target = new LocalDirTarget(root);
    const b = await backUp(store, target);
    expect(b).toMatchObject({ kind: 'redis_rdb', status: 'verified', verified: true, error: null });
    const file = path.join(root, b.key);
    const bytes = fs.readFileSync(file);
    expect(b.sizeBytes).toBe(bytes.length);
    expect(b.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    // The archive is a whole RDB, not a redis-cli pipe's stream with a trailing end marker.
    expect(bytes.subarray(0, 5).toString()).toBe('REDIS');
  });

  it('an upload changed on its way into the target is caught and recorded failed with the reason', async () => {
    const { store, root } = setup();
    const target = new FlippingTarget(root);
    const b = await backUp(store, target);
    expect(b).toMatchObject({ status: 'failed', verified: false });
    expect(b.error).toBe(
      "The stored snapshot's SHA-256 differs from what was written, so its bytes changed in the backup target.",
    );
    expect(store.backups.get(b.id).sizeBytes).toBeGreaterThan(0);
  });

  it('a snapshot damaged later fails its next check, with the reason', async () => {
    const { store, root } = setup();
    const target = new LocalDirTarget(root);
    const b = await backUp(store, target);
    expect(b.verified).toBe(true);
    const file = path.join(root, b.key);
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 100));
    const checked = await verifyRedisBackup({ store, target, backupId: b.id, tools: findRedisTools() });
    expect(checked).toMatchObject({ verified: false, status: 'failed' });
    expect(checked.error).toContain('truncated or replaced in the backup target');
  });

  it('wrong credentials: recorded failed with what redis-cli said, nothing stored', async () => {
    const { store, root } = setup();
    const target = new LocalDirTarget(root);
    const b = await backUp(store, target, { ...connection(), password: 'not-the-password' });
    expect(b.verified).toBe(false);
    expect(b.error).toMatch(
      /^redis-cli could not take the snapshot: .*(WRONGPASS|invalid username-password)/,
    );
    expect(await target.list('')).toEqual([]);
  });
});
