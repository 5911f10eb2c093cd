/**
 * The one way Berth replaces a file whole: a temp file beside it, created exclusively with exactly the mode asked
 * (0600 unless told), written, fsync'd when asked, renamed over. Readers see the old file or the new one, never half.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface AtomicWriteOptions {
  /** Mode of the new file, exactly (the umask does not narrow it); default 0600. */
  mode?: number;
  /** fsync the data before the rename and the directory after it: the new content survives a crash. */
  durable?: boolean;
  /** Owner of the new file (a volume's files belong to the service's uid); absent: whoever writes it. */
  owner?: { uid: number; gid: number } | null;
}

const DEFAULT_MODE = 0o600;

/**
 * The temp file's name: beside the file (so the rename stays in one filesystem), one per file and process. One a
 * crashed earlier process with the same pid left is removed before the exclusive create; writes of one file by
 * this process never overlap (sync ones cannot, async ones are queued per file).
 */
export function tempPathFor(file: string): string {
  return `${file}.${process.pid}.tmp`;
}

/**
 * Replaces `file` with `data`. The temp file is opened with O_CREAT|O_EXCL, so a stale temp (or a symlink planted
 * there) is never reused: its mode, owner or target cannot leak into the new file. On failure the temp is removed
 * and the old file is left as it was.
 */
export function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  opts: AtomicWriteOptions = {},
): void {
  const tmp = tempPathFor(file);
  try {
    fs.rmSync(tmp, { force: true });
    const fd = fs.openSync(tmp, 'wx', opts.mode ?? DEFAULT_MODE);
    try {
      fs.fchmodSync(fd, opts.mode ?? DEFAULT_MODE);
      if (opts.owner) fs.fchownSync(fd, opts.owner.uid, opts.owner.gid);
      fs.writeFileSync(fd, data);
      if (opts.durable) fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  if (opts.durable) syncDir(file);
}

/** writeFileAtomic without blocking the event loop (a routing table written on every deploy, a build's files). */
export function writeFileAtomicAsync(
  file: string,
  data: string | Uint8Array,
  opts: AtomicWriteOptions = {},
): Promise<void> {
  // Queued per file: two writes never share the temp file, and the later call's content is the one that stays.
  const previous = pending.get(file) ?? Promise.resolve();
  const mine = previous.then(() => writeNow(file, data, opts));
  const settled = mine.catch(() => undefined);
  pending.set(file, settled);
  void settled.then(() => {
    if (pending.get(file) === settled) pending.delete(file);
  });
  return mine;
}

/** Per file, the last queued async write (settled, never rejecting), while one is under way. */
const pending = new Map<string, Promise<void>>();

async function writeNow(file: string, data: string | Uint8Array, opts: AtomicWriteOptions): Promise<void> {
  const tmp = tempPathFor(file);
  try {
    await fs.promises.rm(tmp, { force: true });
    const fh = await fs.promises.open(tmp, 'wx', opts.mode ?? DEFAULT_MODE);
    try {
      await fh.chmod(opts.mode ?? DEFAULT_MODE);
      if (opts.owner) await fh.chown(opts.owner.uid, opts.owner.gid);
      await fh.writeFile(data);
      if (opts.durable) await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, file);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  if (opts.durable) syncDir(file);
}

/** Makes a rename in file's directory durable; filesystems that cannot fsync a directory are left alone. */
function syncDir(file: string): void {
  let fd: number | null = null;
  try {
    fd = fs.openSync(path.dirname(file), 'r');
    fs.fsyncSync(fd);
  } catch {
    /* EINVAL/EISDIR on some filesystems: the file itself was synced */
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}
