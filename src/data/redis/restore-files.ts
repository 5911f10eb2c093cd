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

/** Writes the layout of `snapshot` into `volume` (which holds no Redis data), owned by owner. */
export function placeSnapshot(volume: string, snapshot: string, major: number, owner: VolumeOwner): void {
  const layout = rdbLayout(major);
  const own = (p: string) => {
    if (owner) fs.lchownSync(p, owner.uid, owner.gid);
  };
  for (const d of layout.dirs) {
    fs.mkdirSync(path.join(volume, d), { mode: 0o700 });
    own(path.join(volume, d));
  }
  for (const c of layout.copies) {
    fs.copyFileSync(snapshot, path.join(volume, c), fs.constants.COPYFILE_EXCL);
    fs.chmodSync(path.join(volume, c), 0o600);
    own(path.join(volume, c));
  }
  for (const f of layout.files) {
    fs.writeFileSync(path.join(volume, f.path), f.text, { mode: 0o600, flag: 'wx' });
    own(path.join(volume, f.path));
  }
}

/** Moves the volume's Redis data into `aside` (a new directory in the volume); returns what was moved. */
export function setAside(volume: string, aside: string): string[] {
  fs.mkdirSync(aside, { mode: 0o700 });
  const moved: string[] = [];
  for (const name of REDIS_DATA_FILES) {
    if (!fs.existsSync(path.join(volume, name))) continue;
    fs.renameSync(path.join(volume, name), path.join(aside, name));
    moved.push(name);
  }
  return moved;
}

/** Undoes setAside: whatever is in the volume now goes, the set-aside data comes back. */
export function putBack(volume: string, aside: string): void {
  for (const name of REDIS_DATA_FILES) {
    if (!fs.existsSync(path.join(aside, name))) continue;
    fs.rmSync(path.join(volume, name), { recursive: true, force: true });
    fs.renameSync(path.join(aside, name), path.join(volume, name));
  }
  fs.rmSync(aside, { recursive: true, force: true });
}
