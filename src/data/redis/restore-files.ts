/**
 * Where a restored RDB snapshot goes in a Redis volume so that the next start loads it whatever the
 * persistence settings: `dump.rdb` (loaded with appendonly no) and the base of a fresh append-only file
 * (Redis 7 loads only the AOF when appendonly is yes, and ignores dump.rdb then). The names are Berth's own
 * (dbfilename, appenddirname and appendfilename are owned settings, so always Redis's defaults).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { VolumeOwner } from '../volume.js';

export interface RdbLayout {
  /** Directories to create, relative to the volume. */
  dirs: string[];
  /** Copies of the snapshot. */
  copies: string[];
  /** Small files and their text. */
  files: { path: string; text: string }[];
}

/** What the data of a Redis volume is (what an in-place restore sets aside and replaces). */
export const REDIS_DATA_FILES = ['dump.rdb', 'appendonlydir', 'appendonly.aof'];

/** Redis 7's multi-part AOF: a manifest naming the snapshot as its base; before 7, one AOF with an RDB preamble. */
export function rdbLayout(major: number): RdbLayout {
  if (major >= 7) {
    return {
      dirs: ['appendonlydir'],
      copies: ['dump.rdb', 'appendonlydir/appendonly.aof.1.base.rdb'],
      files: [
        {
          path: 'appendonlydir/appendonly.aof.manifest',
          text: 'file appendonly.aof.1.base.rdb seq 1 type b\n',
        },
      ],
    };
  }
  return { dirs: [], copies: ['dump.rdb', 'appendonly.aof'], files: [] };
}

/**
 * Moves `snapshot` (a private file of the daemon's) into `volume` (which holds no Redis data) as the layout,
 * owned by owner: renamed in and hard-linked for its second name when on the same filesystem (Redis never
 * writes into either file: it replaces them by rename), else copied.
 */
export function placeSnapshot(volume: string, snapshot: string, major: number, owner: VolumeOwner): void {
  const layout = rdbLayout(major);
  const own = (p: string) => {
    if (owner) fs.lchownSync(p, owner.uid, owner.gid);
  };
  for (const d of layout.dirs) {
    fs.mkdirSync(path.join(volume, d), { mode: 0o700 });
    own(path.join(volume, d));
  }
  const [first, ...others] = layout.copies.map((c) => path.join(volume, c));
  moveOrCopy(snapshot, first, fs.renameSync);
  fs.chmodSync(first, 0o600);
  own(first);
  for (const other of others) {
    moveOrCopy(first, other, fs.linkSync);
    own(other);
  }
  for (const f of layout.files) {
    fs.writeFileSync(path.join(volume, f.path), f.text, { mode: 0o600, flag: 'wx' });
    own(path.join(volume, f.path));
  }
}

/** `how` (rename or link), or a copy where the two paths are on different filesystems. */
function moveOrCopy(from: string, to: string, how: (a: string, b: string) => void): void {
  try {
    how(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    fs.copyFileSync(from, to, fs.constants.COPYFILE_EXCL);
    fs.chmodSync(to, 0o600);
  }
}

/**
 * True when there is an entry at p itself: a symlink counts even when it dangles (existsSync follows it, so a
 * dangling one would be left in the way of the snapshot's files and fail their creation with a raw EEXIST).
 */
function entryAt(p: string): boolean {
  return fs.lstatSync(p, { throwIfNoEntry: false }) !== undefined;
}

/**
 * Moves the volume's Redis data into `aside` (a new directory in the volume); returns what was moved. Symlinks
 * are moved as links (rename never follows them), dangling ones too.
 */
export function setAside(volume: string, aside: string): string[] {
  fs.mkdirSync(aside, { mode: 0o700 });
  const moved: string[] = [];
  for (const name of REDIS_DATA_FILES) {
    if (!entryAt(path.join(volume, name))) continue;
    fs.renameSync(path.join(volume, name), path.join(aside, name));
    moved.push(name);
  }
  return moved;
}

/**
 * Undoes setAside: whatever Redis data is in the volume now goes (also a file the restore made where there was
 * none, so a failed restore's snapshot is never loaded), the set-aside data comes back.
 */
export function putBack(volume: string, aside: string): void {
  for (const name of REDIS_DATA_FILES) {
    // rmSync removes a link itself, never what it points at.
    fs.rmSync(path.join(volume, name), { recursive: true, force: true });
    if (entryAt(path.join(aside, name))) fs.renameSync(path.join(aside, name), path.join(volume, name));
  }
  fs.rmSync(aside, { recursive: true, force: true });
}
