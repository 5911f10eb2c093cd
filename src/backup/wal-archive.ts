/**
 * Ships a database's WAL archive spool (the directory PostgreSQL's basic_archive copies each finished WAL
 * file into, in its volume) to the backup target: gzip, store, record, then remove from the spool.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { BackupSubject } from '../core/backup-model.js';
import { errorMessage } from '../core/errors.js';
import type { Store } from '../store/store.js';
import { HashMeter } from './hash-meter.js';
import { isArchivedWalName, parseBackupHistory, walKey } from './pitr-argv.js';
import type { BackupTarget } from './target.js';
import { sentence } from './text.js';

/** One WAL file may take this long to store before the pass gives up (and retries at the next). */
const PUT_TIMEOUT_MS = 10 * 60_000;

/**
 * What the spool may hold while the target takes nothing (Railway's pgBackRest queue cap): beyond it the
 * oldest files are dropped, so an unreachable target shortens the restore window instead of filling the
 * volume's disk and stopping the database.
 */
export const DEFAULT_SPOOL_CAP_BYTES = 5 * 1024 ** 3;

/**
 * No WAL file is bigger (Berth's clusters write 16 MB segments; wal-page.ts reads none over 64 MB). The spool is
 * the tenant's to write: a bigger file named like WAL is not PostgreSQL's, and gzipping it would hold up the pass
 * that serves every database.
 */
const MAX_SPOOL_FILE_BYTES = 64 * 1024 ** 2;

export interface ShipResult {
  shipped: number;
  /** Files still in the spool (a failure leaves them for the next pass). */
  waiting: number;
  /** Why the pass stopped early, one sentence; null when everything was shipped. */
  error: string | null;
  /** Files dropped unshipped because the spool passed its cap: the archive has a gap. */
  dropped: number;
}

/**
 * Ships every finished file in spool, oldest name first (WAL order), one at a time. A file leaves the spool
 * only once it is stored and recorded, so a crash at any point ships it again (same key, same bytes).
 * basic_archive writes a temp file and renames it, so only complete files carry WAL names.
 */
export async function shipSpool(o: {
  store: Store;
  target: BackupTarget;
  subject: BackupSubject;
  spool: string;
  signal?: AbortSignal;
  capBytes?: number;
  /**
   * How long this pass may ship (at least one file): the rest waits for the next pass, so one database's
   * backlog does not hold up the others' in a pass that serves them all.
   */
  budgetMs?: number;
}): Promise<ShipResult> {
  let names: string[];
  let spoolUid: number;
  try {
    const st = fs.lstatSync(o.spool);
    if (!st.isDirectory()) {
      const error = `The WAL spool ${o.spool} is not a directory (a symlink?), so nothing was shipped from it.`;
      return { shipped: 0, waiting: 0, error, dropped: 0 };
    }
    spoolUid = st.uid;
    names = fs.readdirSync(o.spool).filter(isArchivedWalName).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      return { shipped: 0, waiting: 0, error: null, dropped: 0 };
    throw err;
  }
  const oversized = removeOversized(o.spool, names);
  names = names.filter((n) => !oversized.includes(n));
  const gone = dropOverCap(o.spool, names, o.capBytes ?? DEFAULT_SPOOL_CAP_BYTES);
  const dropped = gone.size;
  names = names.filter((n) => !gone.has(n));
  const until = o.budgetMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + o.budgetMs;
  const refused =
    oversized.length > 0
      ? `The spool held ${oversized.length} file(s) named like WAL but larger than any WAL file (${oversized.join(', ')}): not PostgreSQL's, so they were removed, not shipped.`
      : null;
  let shipped = 0;
  for (const name of names) {
    if (o.signal?.aborted || (shipped > 0 && Date.now() > until)) break;
    try {
      await shipFile(o, name, spoolUid);
      shipped++;
    } catch (err) {
      return {
        shipped,
        waiting: names.length - shipped,
        error: `Shipping WAL file ${name} to the backup target failed: ${sentence(errorMessage(err))}`,
        dropped,
      };
    }
  }
  return { shipped, waiting: names.length - shipped, error: refused, dropped };
}

/** Removes the files too big to be WAL (see MAX_SPOOL_FILE_BYTES); their names. */
function removeOversized(spool: string, names: readonly string[]): string[] {
  const removed: string[] = [];
  for (const n of names) {
    try {
      if (fs.lstatSync(path.join(spool, n)).size <= MAX_SPOOL_FILE_BYTES) continue;
    } catch {
      continue;
    }
    fs.rmSync(path.join(spool, n), { force: true });
    removed.push(n);
  }
  return removed;
}

/** Removes the oldest files (WAL order) until the spool is within cap; the names that went. Histories stay. */
function dropOverCap(spool: string, names: readonly string[], cap: number): Set<string> {
  const sizes = new Map<string, number>();
  for (const n of names) {
    try {
      sizes.set(n, fs.lstatSync(path.join(spool, n)).size);
    } catch {
      sizes.set(n, 0);
    }
  }
  let total = [...sizes.values()].reduce((a, b) => a + b, 0);
  const gone = new Set<string>();
  for (const n of names) {
    if (total <= cap) break;
    if (n.endsWith('.history')) continue;
    fs.rmSync(path.join(spool, n), { force: true });
    total -= sizes.get(n) ?? 0;
    gone.add(n);
  }
  return gone;
}

async function shipFile(
  o: { store: Store; target: BackupTarget; subject: BackupSubject; spool: string; signal?: AbortSignal },
  name: string,
  spoolUid: number,
): Promise<void> {
  const file = path.join(o.spool, name);
  const fd = openOwnedFile(file, spoolUid);
  const closedAt = fs.fstatSync(fd).mtime.toISOString();
  const key = walKey(o.subject, name);
  const stored = await putGzipped(o.target, key, fs.createReadStream(file, { fd }), o.signal);
  o.store.walArchive.recordWal({
    ...o.subject,
    name,
    key,
    ...stored,
    closedAt,
  });
  if (name.endsWith('.backup')) {
    const historyFd = openOwnedFile(file, spoolUid);
    let text: string;
    try {
      text = fs.readFileSync(historyFd, 'utf8');
    } finally {
      fs.closeSync(historyFd);
    }
    const ended = parseBackupHistory(text);
    if (ended && o.store.walArchive.findBase(ended.baseId)) {
      o.store.walArchive.setBaseEnd(ended.baseId, ended.endWal);
    }
  }
  fs.rmSync(file, { force: true });
}

/**
 * Gzips body into key (one WAL file, or a tail's first part), then checks the target holds all of it; the
 * stored size and SHA-256 for the record.
 */
export async function putGzipped(
  target: BackupTarget,
  key: string,
  body: fs.ReadStream,
  signal?: AbortSignal,
): Promise<{ sizeBytes: number; sha256: string }> {
  const meter = new HashMeter();
  const put = target
    .put(key, meter, {
      signal: AbortSignal.any([AbortSignal.timeout(PUT_TIMEOUT_MS), ...(signal ? [signal] : [])]),
    })
    .catch((err: unknown) => {
      body.destroy(); // nobody reads the file any more
      meter.destroy();
      throw err;
    });
  const [stored] = await Promise.all([put, pipeline(body, createGzip({ level: 1 }), meter)]);
  if (stored.sizeBytes !== meter.bytes) {
    throw new Error(`the target stored ${stored.sizeBytes} of ${meter.bytes} bytes`);
  }
  const st = await target.stat(key);
  if (!st || st.sizeBytes !== meter.bytes) throw new Error('the stored object is not there in full');
  return { sizeBytes: meter.bytes, sha256: meter.digest() };
}

/**
 * The spool and pg_wal are writable by the database's own uid, and a superuser's COPY … TO PROGRAM runs as it:
 * a symlink (or a swapped directory) must not make the daemon ship another tenant's or its own files into this
 * archive. So only a regular file, not followed through a symlink, owned by the database's uid.
 */
export function openOwnedFile(file: string, spoolUid: number): number {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  const st = fs.fstatSync(fd);
  if (!st.isFile() || st.uid !== spoolUid) {
    fs.closeSync(fd);
    throw new Error(`${file} is not a regular file of the database's own; remove it`);
  }
  return fd;
}
