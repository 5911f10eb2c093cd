import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempPathFor, writeFileAtomic, writeFileAtomicAsync } from '../../src/lib/atomic-write.js';
import { makeTmpDir } from '../helpers/tmp.js';

let tmp: { dir: string; cleanup: () => void };
let file: string;
beforeEach(() => {
  tmp = makeTmpDir('berth-atomic-');
  file = path.join(tmp.dir, 'secret.json');
});
afterEach(() => tmp.cleanup());

const modeOf = (f: string) => fs.statSync(f).mode & 0o777;
const leftovers = () => fs.readdirSync(tmp.dir).filter((n) => n.endsWith('.tmp'));

const writers = [
  [
    'writeFileAtomic',
    async (f: string, d: string, o?: Parameters<typeof writeFileAtomic>[2]) => writeFileAtomic(f, d, o),
  ],
  ['writeFileAtomicAsync', writeFileAtomicAsync],
] as const;

describe.each(writers)('%s', (_name, write) => {
  it('creates the file with mode 0600 unless told, and exactly the mode asked whatever the umask', async () => {
    await write(file, 'one');
    expect(fs.readFileSync(file, 'utf8')).toBe('one');
    expect(modeOf(file)).toBe(0o600);
    const umask = process.umask(0o077);
    try {
      await write(file, 'two', { mode: 0o644, durable: true });
    } finally {
      process.umask(umask);
    }
    expect(fs.readFileSync(file, 'utf8')).toBe('two');
    expect(modeOf(file)).toBe(0o644);
    expect(leftovers()).toEqual([]);
  });

  it('replaces a wider-mode file with a 0600 one', async () => {
    fs.writeFileSync(file, 'old', { mode: 0o666 });
    fs.chmodSync(file, 0o666);
    await write(file, 'new');
    expect(fs.readFileSync(file, 'utf8')).toBe('new');
    expect(modeOf(file)).toBe(0o600);
  });

  it('a stale world-readable temp file of a crashed writer is removed, not reused: the new file is 0600', async () => {
    const stale = tempPathFor(file);
    fs.writeFileSync(stale, 'stale and longer than what is written next', { mode: 0o666 });
    fs.chmodSync(stale, 0o666);
    await write(file, 'fresh');
    expect(fs.readFileSync(file, 'utf8')).toBe('fresh');
    expect(modeOf(file)).toBe(0o600);
    expect(leftovers()).toEqual([]);
  });

  it('a symlink planted at the temp path is replaced, never followed', async () => {
    const victim = path.join(tmp.dir, 'victim');
    fs.writeFileSync(victim, 'untouched', { mode: 0o644 });
    fs.symlinkSync(victim, tempPathFor(file));
    await write(file, 'fresh');
    expect(fs.readFileSync(victim, 'utf8')).toBe('untouched');
    expect(modeOf(victim)).toBe(0o644);
    expect(fs.lstatSync(file).isFile()).toBe(true);
    expect(fs.readFileSync(file, 'utf8')).toBe('fresh');
  });

  it('a failed rename leaves what was there and no temp file', async () => {
    fs.mkdirSync(file);
    fs.writeFileSync(path.join(file, 'inside'), 'kept');
    await expect(write(file, 'data')).rejects.toThrow(/EISDIR|ENOTEMPTY|EEXIST/);
    expect(fs.readFileSync(path.join(file, 'inside'), 'utf8')).toBe('kept');
    expect(leftovers()).toEqual([]);
  });

  it.skipIf(process.getuid?.() !== 0)('gives the file to the owner asked (root only)', async () => {
    await write(file, 'owned', { owner: { uid: 4321, gid: 4322 } });
    const st = fs.statSync(file);
    expect([st.uid, st.gid]).toEqual([4321, 4322]);
    expect(modeOf(file)).toBe(0o600);
  });
});

describe('writeFileAtomicAsync', () => {
  it('queues overlapping writes of one file: each completes and the last call’s content stays', async () => {
    const writes = Array.from({ length: 20 }, (_, i) => writeFileAtomicAsync(file, `content ${i}`));
    await Promise.all(writes);
    expect(fs.readFileSync(file, 'utf8')).toBe('content 19');
    expect(leftovers()).toEqual([]);
  });

  it('a failed write does not stop the next one of the same file', async () => {
    fs.mkdirSync(file);
    const failed = writeFileAtomicAsync(file, 'x');
    const next = failed.then(
      () => 'wrote',
      () => {
        fs.rmdirSync(file);
        return writeFileAtomicAsync(file, 'written after the failure').then(() => 'failed, then wrote');
      },
    );
    expect(await next).toBe('failed, then wrote');
    expect(fs.readFileSync(file, 'utf8')).toBe('written after the failure');
    expect(leftovers()).toEqual([]);
  });
});
