/**
 * The default backup target until the built-in object store exists: a directory under the data dir
 * (`<data-dir>/backups/`). Objects are written to a temp file, fsynced and renamed, mode 0600.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  assertValidKey,
  assertValidPrefix,
  BackupObjectMissing,
  type BackupTarget,
  type StoredObject,
} from './target.js';

/** Temp files carry this marker; a segment may not start with '.', so no key can name one. */
const TEMP_PREFIX = '.part-';

export class LocalDirTarget implements BackupTarget {
  readonly description: string;

  constructor(private readonly root: string) {
    this.description = `directory ${root}`;
  }

  private pathOf(key: string): string {
    assertValidKey(key);
    return path.join(this.root, ...key.split('/'));
  }

  async put(
    key: string,
    body: Readable,
    opts: { signal?: AbortSignal } = {},
  ): Promise<{ sizeBytes: number }> {
    const file = this.pathOf(key);
    const dir = path.dirname(file);
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    const temp = path.join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    const out = fs.createWriteStream(temp, { mode: 0o600, flags: 'wx' });
    try {
      await pipeline(body, out, { signal: opts.signal });
      const fd = await fsp.open(temp, 'r');
      try {
        await fd.sync();
      } finally {
        await fd.close();
      }
      await fsp.rename(temp, file);
      await syncDir(dir);
    } catch (err) {
      // A source that fails at once can beat the stream's asynchronous open: removing the temp file before
      // the stream has closed would let the open create it afterwards, left behind.
      if (!out.closed) await once(out, 'close').catch(() => undefined);
      await fsp.rm(temp, { force: true });
      throw err;
    }
    return { sizeBytes: (await fsp.stat(file)).size };
  }

  async get(key: string): Promise<Readable> {
    const file = this.pathOf(key);
    try {
      const handle = await fsp.open(file, 'r');
      return handle.createReadStream();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new BackupObjectMissing(this, key);
      throw err;
    }
  }

  async stat(key: string): Promise<StoredObject | null> {
    try {
      const st = await fsp.stat(this.pathOf(key));
      return st.isFile() ? { key, sizeBytes: st.size, modifiedAt: st.mtime } : null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    assertValidPrefix(prefix);
    const out: StoredObject[] = [];
    await walk(this.root, '', async (key, st) => {
      if (key.startsWith(prefix)) out.push({ key, sizeBytes: st.size, modifiedAt: st.mtime });
    });
    // Byte order, as S3 lists.
    return out.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
  }

  async delete(key: string): Promise<void> {
    await fsp.rm(this.pathOf(key), { force: true });
  }

  async sweep(): Promise<number> {
    let removed = 0;
    const visit = async (dir: string): Promise<void> => {
      let entries: fs.Dirent[];
      try {
        entries = await fsp.readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      for (const e of entries) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) await visit(p);
        else if (e.name.startsWith(TEMP_PREFIX)) {
          await fsp.rm(p, { force: true });
          removed++;
        }
      }
    };
    await visit(this.root);
    return removed;
  }
}

async function walk(
  dir: string,
  rel: string,
  onFile: (key: string, st: fs.Stats) => Promise<void>,
): Promise<void> {
  let entries: fs.Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const e of entries) {
    if (e.name.startsWith('.')) continue; // temp files of puts in progress
    const key = rel ? `${rel}/${e.name}` : e.name;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await walk(p, key, onFile);
    else if (e.isFile()) await onFile(key, await fsp.stat(p));
  }
}

/** Makes the rename durable: without it a crash can lose the directory entry of a file already synced. */
async function syncDir(dir: string): Promise<void> {
  const fd = await fsp.open(dir, 'r');
  try {
    await fd.sync();
  } finally {
    await fd.close();
  }
}
