import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { placeSnapshot, putBack, setAside } from '../../src/data/redis/restore-files.js';
import { makeTmpDir } from '../helpers/tmp.js';

let tmp: { dir: string; cleanup: () => void };
let volume: string;
let aside: string;
let snapshot: string;
beforeEach(() => {
  tmp = makeTmpDir('berth-rdb-links-');
  volume = path.join(tmp.dir, 'volume');
  fs.mkdirSync(volume);
  aside = path.join(volume, 'restore-previous');
  snapshot = path.join(tmp.dir, 'snapshot.rdb');
  fs.writeFileSync(snapshot, 'REDIS0010 new');
});
afterEach(() => tmp.cleanup());

const linkAt = (p: string) => (fs.lstatSync(p).isSymbolicLink() ? fs.readlinkSync(p) : null);

describe('an in-place Redis restore with dangling symlinks among the data files', () => {
  it('Redis 7: dangling dump.rdb and appendonlydir links are set aside, the snapshot placed, and put back as links', () => {
    const gone = path.join(tmp.dir, 'nowhere');
    fs.symlinkSync(path.join(gone, 'dump.rdb'), path.join(volume, 'dump.rdb'));
    fs.symlinkSync(path.join(gone, 'aof'), path.join(volume, 'appendonlydir'));

    expect(setAside(volume, aside)).toEqual(['dump.rdb', 'appendonlydir']);
    placeSnapshot(volume, snapshot, 7, null);
    expect(fs.readFileSync(path.join(volume, 'dump.rdb'), 'utf8')).toBe('REDIS0010 new');
    expect(fs.lstatSync(path.join(volume, 'appendonlydir')).isDirectory()).toBe(true);
    expect(fs.readdirSync(path.join(volume, 'appendonlydir')).sort()).toEqual([
      'appendonly.aof.1.base.rdb',
      'appendonly.aof.manifest',
    ]);

    // A restore that failed afterwards gives back exactly what was there: the two links, still dangling.
    putBack(volume, aside);
    expect(linkAt(path.join(volume, 'dump.rdb'))).toBe(path.join(gone, 'dump.rdb'));
    expect(linkAt(path.join(volume, 'appendonlydir'))).toBe(path.join(gone, 'aof'));
    expect(fs.existsSync(aside)).toBe(false);
    expect(fs.existsSync(gone)).toBe(false);
  });

  it('Redis 6: a dangling appendonly.aof link no longer stops the snapshot’s second name (EEXIST)', () => {
    fs.symlinkSync(path.join(tmp.dir, 'nowhere.aof'), path.join(volume, 'appendonly.aof'));
    expect(setAside(volume, aside)).toEqual(['appendonly.aof']);
    placeSnapshot(volume, snapshot, 6, null);
    expect(fs.readFileSync(path.join(volume, 'appendonly.aof'), 'utf8')).toBe('REDIS0010 new');
    expect(fs.lstatSync(path.join(volume, 'appendonly.aof')).isSymbolicLink()).toBe(false);
    putBack(volume, aside);
    expect(linkAt(path.join(volume, 'appendonly.aof'))).toBe(path.join(tmp.dir, 'nowhere.aof'));
    // dump.rdb was not there before the restore: the snapshot's copy goes too (Redis would load it otherwise).
    expect(fs.readdirSync(volume)).toEqual(['appendonly.aof']);
    expect(fs.existsSync(aside)).toBe(false);
  });

  it('a link to a file outside the volume is moved as a link: its target is never touched', () => {
    const victim = path.join(tmp.dir, 'victim');
    fs.writeFileSync(victim, 'not redis data');
    fs.symlinkSync(victim, path.join(volume, 'dump.rdb'));
    expect(setAside(volume, aside)).toEqual(['dump.rdb']);
    placeSnapshot(volume, snapshot, 7, null);
    putBack(volume, aside);
    expect(linkAt(path.join(volume, 'dump.rdb'))).toBe(victim);
    expect(fs.readFileSync(victim, 'utf8')).toBe('not redis data');
  });
});
