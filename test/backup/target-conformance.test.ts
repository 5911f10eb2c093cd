import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalDirTarget } from '../../src/backup/local-target.js';
import { readParts, S3Target } from '../../src/backup/s3-target.js';
import { BackupObjectMissing, type BackupTarget } from '../../src/backup/target.js';
import { makeTmpDir } from '../helpers/tmp.js';

/**
 * One suite over every BackupTarget. The S3 case needs a real S3 server: none runs on this machine until the
 * built-in store (issue 17) exists, so it runs only when BERTH_TEST_S3_ENDPOINT, BERTH_TEST_S3_BUCKET,
 * BERTH_TEST_S3_ACCESS_KEY_ID and BERTH_TEST_S3_SECRET_ACCESS_KEY (and optionally BERTH_TEST_S3_REGION,
 * BERTH_TEST_S3_PATH_STYLE=1) name one.
 */
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A stream of `total` pseudo-random bytes in uneven chunks, without holding them all. */
function generated(total: number, seed: string): { stream: Readable; sha256: () => string } {
  const hash = createHash('sha256');
  let sent = 0;
  let n = 0;
  const stream = new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      const len = Math.min(total - sent, 300_000 + ((n * 7919) % 500_000));
      const chunk = createHash('sha512').update(`${seed}${n++}`).digest();
      const buf = Buffer.alloc(len, chunk);
      hash.update(buf);
      sent += len;
      this.push(buf);
    },
  });
  return { stream, sha256: () => hash.digest('hex') };
}

function failingAfter(bytes: number): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(randomBytes(bytes));
      } else this.destroy(new Error('the source failed'));
    },
  });
}

interface Case {
  name: string;
  make: () => BackupTarget;
  skip: string | null;
}

const s3Env = {
  endpoint: process.env.BERTH_TEST_S3_ENDPOINT,
  bucket: process.env.BERTH_TEST_S3_BUCKET,
  accessKeyId: process.env.BERTH_TEST_S3_ACCESS_KEY_ID,
  secretAccessKey: process.env.BERTH_TEST_S3_SECRET_ACCESS_KEY,
};
const s3Missing = Object.entries(s3Env)
  .filter(([, v]) => !v)
  .map(([k]) => k);

const cases: Case[] = [
  {
    name: 'local directory',
    make: () => {
      const t = makeTmpDir('berth-target-');
      cleanups.push(t.cleanup);
      return new LocalDirTarget(path.join(t.dir, 'backups'));
    },
    skip: null,
  },
  {
    name: 'S3',
    make: () =>
      new S3Target({
        endpoint: s3Env.endpoint,
        region: process.env.BERTH_TEST_S3_REGION ?? 'us-east-1',
        bucket: s3Env.bucket as string,
        prefix: `berth-conformance/${randomBytes(6).toString('hex')}`,
        accessKeyId: s3Env.accessKeyId as string,
        secretAccessKey: s3Env.secretAccessKey as string,
        forcePathStyle: process.env.BERTH_TEST_S3_PATH_STYLE === '1',
      }),
    skip:
      s3Missing.length > 0
        ? `skipped: no S3 server on this machine (the built-in store is issue 17) — set ${s3Missing.join(', ')} to run it`
        : null,
  },
];

for (const c of cases) {
  describe.skipIf(c.skip !== null)(
    `BackupTarget conformance: ${c.name}${c.skip ? ` (${c.skip})` : ''}`,
    () => {
      it('stores a stream under a key and gives back the same bytes, with its size', async () => {
        const t = c.make();
        const body = randomBytes(100_000);
        expect(await t.put('pg/db-1/a.dump', Readable.from([body]))).toEqual({ sizeBytes: 100_000 });
        expect((await bytesOf(await t.get('pg/db-1/a.dump'))).equals(body)).toBe(true);
        const st = await t.stat('pg/db-1/a.dump');
        expect(st?.key).toBe('pg/db-1/a.dump');
        expect(st?.sizeBytes).toBe(100_000);
        expect(st?.modifiedAt).toBeInstanceOf(Date);
        await t.delete('pg/db-1/a.dump');
      });

      it('streams an archive larger than one upload part and reads it back whole', async () => {
        const t = c.make();
        const total = 20 * 1024 * 1024 + 12_345;
        const src = generated(total, 'big');
        expect(await t.put('big.dump', src.stream)).toEqual({ sizeBytes: total });
        const back = createHash('sha256');
        let n = 0;
        for await (const chunk of await t.get('big.dump')) {
          back.update(chunk as Buffer);
          n += (chunk as Buffer).length;
        }
        expect(n).toBe(total);
        expect(back.digest('hex')).toBe(src.sha256());
        await t.delete('big.dump');
      });

      it('stores an empty stream as an empty object', async () => {
        const t = c.make();
        expect(await t.put('empty', Readable.from([]))).toEqual({ sizeBytes: 0 });
        expect((await bytesOf(await t.get('empty'))).length).toBe(0);
        await t.delete('empty');
      });

      it('replaces an object put again under the same key', async () => {
        const t = c.make();
        await t.put('k', Readable.from([Buffer.from('first')]));
        await t.put('k', Readable.from([Buffer.from('second!')]));
        expect((await bytesOf(await t.get('k'))).toString()).toBe('second!');
        expect((await t.stat('k'))?.sizeBytes).toBe(7);
        await t.delete('k');
      });

      it('keeps the previous object when a put fails midway, and shows nothing half-written', async () => {
        const t = c.make();
        await t.put('pg/keep.dump', Readable.from([Buffer.from('the good one')]));
        await expect(t.put('pg/keep.dump', failingAfter(64 * 1024))).rejects.toThrow(/the source failed/);
        await expect(t.put('pg/new.dump', failingAfter(64 * 1024))).rejects.toThrow(/the source failed/);
        expect((await bytesOf(await t.get('pg/keep.dump'))).toString()).toBe('the good one');
        expect(await t.stat('pg/new.dump')).toBeNull();
        expect((await t.list('pg/')).map((o) => o.key)).toEqual(['pg/keep.dump']);
        await t.delete('pg/keep.dump');
      });

      it('lists the objects under a prefix in key order, and nothing of other prefixes', async () => {
        const t = c.make();
        for (const k of ['pg/b/2.dump', 'pg/a/1.dump', 'pg/a/0.dump', 'pgx/other', 'redis/x.rdb']) {
          await t.put(k, Readable.from([Buffer.from(k)]));
        }
        expect((await t.list('pg/a/')).map((o) => o.key)).toEqual(['pg/a/0.dump', 'pg/a/1.dump']);
        expect((await t.list('pg/')).map((o) => o.key)).toEqual([
          'pg/a/0.dump',
          'pg/a/1.dump',
          'pg/b/2.dump',
        ]);
        expect((await t.list('')).length).toBe(5);
        expect((await t.list('pg/a/0.dump'))[0]).toMatchObject({ key: 'pg/a/0.dump', sizeBytes: 11 });
        expect(await t.list('nothing/')).toEqual([]);
        for (const o of await t.list('')) await t.delete(o.key);
        expect(await t.list('')).toEqual([]);
      });

      it('deletes an object; deleting a missing one is fine; reading a missing one names the key', async () => {
        const t = c.make();
        await t.put('gone', Readable.from([Buffer.from('x')]));
        await t.delete('gone');
        await t.delete('gone');
        expect(await t.stat('gone')).toBeNull();
        const err = await t.get('gone').catch((e: unknown) => e);
        expect(err).toBeInstanceOf(BackupObjectMissing);
        expect((err as Error).message).toBe(
          `The archive "gone" is missing from the backup target (${t.description}).`,
        );
      });

      it('sweeps nothing when no put was interrupted, and keeps stored objects', async () => {
        const t = c.make();
        await t.put('pg/kept', Readable.from([Buffer.from('x')]));
        expect(await t.sweep()).toBe(0);
        expect((await t.list('')).map((o) => o.key)).toEqual(['pg/kept']);
        await t.delete('pg/kept');
      });

      it('refuses keys that would climb out of the target (path traversal) with one sentence', async () => {
        const t = c.make();
        for (const bad of [
          '../escape',
          'pg/../../etc/passwd',
          '/abs',
          'a//b',
          '.hidden',
          'a/./b',
          'sp ace',
          '',
        ]) {
          await expect(t.put(bad, Readable.from([Buffer.from('x')]))).rejects.toThrow(
            `"${bad}" is not a valid backup key: use "/"-separated names of letters, digits, ".", "_" and "-", none starting with ".".`,
          );
        }
        await expect(t.list('../')).rejects.toThrow(/is not a valid backup key/);
      });
    },
  );
}

describe('local directory target', () => {
  it('writes archives readable by the daemon only (0600 files, 0700 directories) and leaves no temp files', async () => {
    const tmp = makeTmpDir('berth-target-');
    cleanups.push(tmp.cleanup);
    const root = path.join(tmp.dir, 'backups');
    const t = new LocalDirTarget(root);
    await t.put('pg/s1/a.dump', Readable.from([Buffer.from('secret rows')]));
    await t.put('pg/s1/b.dump', failingAfter(1000)).catch(() => {});
    // A put cancelled before its temp file is even open (the open is asynchronous).
    for (let i = 0; i < 20; i++) {
      const body = Readable.from([Buffer.from('rows')]);
      await t.put(`pg/s1/c${i}.dump`, body, { signal: AbortSignal.abort() }).catch(() => {});
    }
    expect(fs.statSync(path.join(root, 'pg/s1/a.dump')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(root, 'pg/s1')).mode & 0o777).toBe(0o700);
    expect(fs.readdirSync(path.join(root, 'pg/s1'))).toEqual(['a.dump']);
  });
});

describe('S3 upload parts', () => {
  async function parts(chunks: number[], size: number): Promise<number[]> {
    const out: number[] = [];
    let seq = 0;
    const src = Readable.from(chunks.map((n) => Buffer.alloc(n, seq++)));
    for await (const p of readParts(src, size)) out.push(p.length);
    return out;
  }

  it('cuts any chunking into parts of exactly the part size, the last shorter, bytes in order', async () => {
    expect(await parts([3, 3, 3], 4)).toEqual([4, 4, 1]);
    expect(await parts([10], 4)).toEqual([4, 4, 2]);
    expect(await parts([4, 4], 4)).toEqual([4, 4]);
    expect(await parts([1, 1, 1], 4)).toEqual([3]);
    expect(await parts([], 4)).toEqual([]);
    const src = Readable.from([Buffer.from('abc'), Buffer.from('defgh'), Buffer.from('ij')]);
    const got: string[] = [];
    for await (const p of readParts(src, 4)) got.push(p.toString());
    expect(got).toEqual(['abcd', 'efgh', 'ij']);
  });
});

describe('S3 target without a reachable server', () => {
  it('says in one sentence which target could not be reached and what to check', async () => {
    const t = new S3Target({
      endpoint: 'http://127.0.0.1:1',
      region: 'us-east-1',
      bucket: 'backups',
      prefix: 'berth',
      accessKeyId: 'AKIA',
      secretAccessKey: 'secret',
      forcePathStyle: true,
    });
    const err = (await t
      .put('pg/a.dump', Readable.from([Buffer.from('x')]))
      .catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(
      /^The backup target s3:\/\/backups\/berth\/ at http:\/\/127\.0\.0\.1:1 could not store "pg\/a\.dump" \(.*ECONNREFUSED.*\); check its endpoint, bucket and keys\.$/s,
    );
  });
});
