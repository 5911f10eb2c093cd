/**
 * Ships a database's WAL tail: the written part of the segment PostgreSQL is filling (read from its pg_wal),
 * so the archive reaches within a shipping pass of now instead of within archive_timeout.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { BackupSubject } from '../core/backup-model.js';
import type { Store } from '../store/store.js';
import { isSegment, positionOf, walPrefix } from './pitr-argv.js';
import type { BackupTarget } from './target.js';
import { openOwnedFile, putGzipped } from './wal-archive.js';
import { LONG_HEADER_BYTES, PAGE_HEADER_BYTES, readGeometry, writtenBytes } from './wal-page.js';

/**
 * The segment PostgreSQL writes now, as read: its name, how much of it is written and a digest of the last
 * written page. WAL only grows at its end, so any write changes the length or that page (file times are
 * too coarse to tell two writes a millisecond apart).
 */
export interface CurrentSegment {
  name: string;
  writtenBytes: number;
  segmentBytes: number;
  lastPageSha256: string;
}

export interface TailPass {
  /** The segment that was current when the pass looked (null: none found, e.g. the cluster is not made yet). */
  current: CurrentSegment | null;
  /** The instant before pg_wal was listed: the archive (with this tail) holds all WAL written until then. */
  looked: string;
  /** Whether a new tail was stored by this pass. */
  shipped: boolean;
}

/** `wal/<service>/<environment>/tail/<segment>-<length>-<digest>.gz`: a key per content, never overwritten with other bytes. */
export function walTailKey(subject: BackupSubject, segment: CurrentSegment): string {
  return `${walTailPrefix(subject)}${segment.name}-${segment.writtenBytes}-${segment.lastPageSha256.slice(0, 16)}.gz`;
}

/**
 * One pass: finds the current segment in `<pgdata>/pg_wal`; when the archive already holds it whole there is
 * no tail (and a recorded one is dropped); when the recorded tail holds what it holds now, nothing is stored
 * again; otherwise its written part is gzipped, stored under a new key, recorded, and the previous tail's
 * object deleted.
 */
export async function shipTail(o: {
  store: Store;
  target: BackupTarget;
  subject: BackupSubject;
  pgdata: string;
  signal?: AbortSignal;
  /** Removes a replaced tail's object (default: deleted now; a caller whose restore reads it defers that). */
  retire?: (key: string) => Promise<void>;
}): Promise<TailPass> {
  const retire = o.retire ?? ((key: string) => o.target.delete(key));
  const archive = o.store.walArchive;
  const looked = new Date().toISOString();
  const found = openCurrentSegment(path.join(o.pgdata, 'pg_wal'));
  if (!found) return { current: null, looked, shipped: false };
  const { fd, segment } = found;
  let closed = false;
  const close = () => {
    if (!closed) fs.closeSync(fd);
    closed = true;
  };
  try {
    const had = archive.findTail(o.subject);
    if (archive.hasWal(o.subject, segment.name)) {
      if (had && positionOf(had.name) <= positionOf(segment.name)) {
        archive.deleteTail(o.subject);
        await retire(had.key).catch(() => undefined);
      }
      return { current: segment, looked, shipped: false };
    }
    const key = walTailKey(o.subject, segment);
    if (had?.key === key) return { current: segment, looked, shipped: false };
    closed = true; // the stream owns the descriptor now
    const body = fs.createReadStream('', { fd, start: 0, end: segment.writtenBytes - 1 });
    const stored = await putGzipped(o.target, key, body, o.signal);
    archive.setTail({
      ...o.subject,
      name: segment.name,
      key,
      ...stored,
      closedAt: looked,
      segmentBytes: segment.segmentBytes,
    });
    if (had && had.key !== key) await retire(had.key).catch(() => undefined);
    return { current: segment, looked, shipped: true };
  } finally {
    close();
  }
}

/** `wal/<service>/<environment>/tail/`: where a database's tails are stored. */
export function walTailPrefix(subject: BackupSubject): string {
  return `${walPrefix(subject)}tail/`;
}

/**
 * Deletes the stored tails of a database but the recorded one (and `keep`): a daemon killed between a put
 * and its record, or while a restore held replaced tails, leaves such objects behind. Resolves with how many went.
 */
export async function sweepTails(o: {
  store: Store;
  target: BackupTarget;
  subject: BackupSubject;
  keep?: ReadonlySet<string>;
}): Promise<number> {
  const recorded = o.store.walArchive.findTail(o.subject)?.key;
  let removed = 0;
  for (const obj of await o.target.list(walTailPrefix(o.subject))) {
    if (obj.key === recorded || o.keep?.has(obj.key)) continue;
    await o.target.delete(obj.key);
    removed++;
  }
  return removed;
}

/**
 * The newest segment file whose first page carries its own address (files ahead of it are preallocated
 * zeros or recycled old segments renamed forward), opened without following links and owned by pgdata's owner.
 * The owner is taken from pgdata, not pg_wal: a pgdata swapped for a symlink to another database's would
 * otherwise lend that database's uid to the check.
 */
export function openCurrentSegment(walDir: string): { fd: number; segment: CurrentSegment } | null {
  let owner: number;
  let names: string[];
  try {
    owner = realDirectory(path.dirname(walDir)).uid;
    if (realDirectory(walDir).uid !== owner)
      throw new Error(`${walDir} is not the database's own; no WAL tail is read from it`);
    names = fs.readdirSync(walDir).filter(isSegment).sort().reverse();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  for (const name of names) {
    let fd: number;
    try {
      fd = openOwnedFile(path.join(walDir, name), owner);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // recycled away meanwhile
      throw err;
    }
    const segment = readSegment(fd, name);
    if (segment) return { fd, segment };
    fs.closeSync(fd);
  }
  return null;
}

function realDirectory(dir: string): fs.Stats {
  const st = fs.lstatSync(dir);
  if (!st.isDirectory())
    throw new Error(`${dir} is not a directory (a symlink?); no WAL tail is read from it`);
  return st;
}

function readSegment(fd: number, name: string): CurrentSegment | null {
  const geometry = readGeometry(readAt(fd, 0, LONG_HEADER_BYTES));
  if (!geometry || fs.fstatSync(fd).size !== geometry.segmentBytes) return null;
  const written = writtenBytes((offset) => readAt(fd, offset, PAGE_HEADER_BYTES), name, geometry);
  if (written === 0) return null;
  const lastPage = readAt(fd, written - geometry.blockBytes, geometry.blockBytes);
  return {
    name,
    writtenBytes: written,
    segmentBytes: geometry.segmentBytes,
    lastPageSha256: createHash('sha256').update(lastPage).digest('hex'),
  };
}

function readAt(fd: number, offset: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  const n = fs.readSync(fd, b, 0, length, offset);
  return b.subarray(0, n);
}
