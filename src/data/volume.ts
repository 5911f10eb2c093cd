/** A data service's volume and the files in it, owned by the uid its engine runs as. */
import fs from 'node:fs';
import { writeFileAtomic } from '../lib/atomic-write.js';

/** Who owns the volume: the service's uid (daemon as root), else the daemon's own user (null). */
export type VolumeOwner = { uid: number; gid: number } | null;

/** Creates dir (0700) and hands it to owner; a symlink in its place is refused, never followed. */
export function ownedDir(dir: string, owner: VolumeOwner): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  if (owner && (st.uid !== owner.uid || st.gid !== owner.gid)) fs.lchownSync(dir, owner.uid, owner.gid);
}

/** Replaces file atomically with text, mode 0600, owned by owner (a temp file renamed over it). */
export function writeOwned(file: string, text: string, owner: VolumeOwner): void {
  writeFileAtomic(file, text, { owner });
}
