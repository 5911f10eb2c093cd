/**
 * Retention: archives older than the keep window go from the target and then from the manifest, except
 * the newest verified archive, which is kept however old so a database always has one to restore.
 */
import { type BackupSubject, DEFAULT_KEEP_DAYS } from '../core/backup-model.js';
import { errorMessage, UserError } from '../core/errors.js';
import { DEFAULT_WINDOW_DAYS } from '../core/pitr-model.js';
import type { Store } from '../store/store.js';
import type { BackupTarget } from './target.js';
import { sentence } from './text.js';
import { sweepTails } from './wal-tail.js';

const DAY_MS = 24 * 60 * 60 * 1000;
export const MAX_KEEP_DAYS = 3650;

export function assertKeepDays(keepDays: number): void {
  if (!Number.isInteger(keepDays) || keepDays < 1 || keepDays > MAX_KEEP_DAYS) {
    throw new UserError(
      `--keep-days must be a whole number of days from 1 to ${MAX_KEEP_DAYS}, not ${keepDays}.`,
    );
  }
}

export interface PruneResult {
  /** Ids removed from the target and the manifest. */
  pruned: string[];
  /** Archives the target would not delete: still listed, with why. */
  failed: { id: string; reason: string }[];
}

export async function pruneBackups(opts: {
  store: Store;
  target: BackupTarget;
  subject: BackupSubject;
  keepDays: number;
  now?: Date;
}): Promise<PruneResult> {
  assertKeepDays(opts.keepDays);
  const cutoff = new Date((opts.now ?? new Date()).getTime() - opts.keepDays * DAY_MS).toISOString();
  const keep = opts.store.backups.findNewestVerified(opts.subject)?.id;
  const result: PruneResult = { pruned: [], failed: [] };
  for (const b of opts.store.backups.listFinishedBefore(opts.subject, cutoff)) {
    if (b.id === keep) continue;
    try {
      // Target first: if that fails the row stays listed and the next prune retries; an archive whose row went
      // first would never be pruned.
      await opts.target.delete(b.key);
      opts.store.backups.delete(b.id);
      result.pruned.push(b.id);
    } catch (err) {
      result.failed.push({ id: b.id, reason: sentence(errorMessage(err)) });
    }
  }
  return result;
}

/**
 * The daily sweep of deleted databases' backups: a deleted database keeps every archive for the keep window
 * it had (its schedule's keepDays, else the default), counted from its deletion; after that all of them go,
 * the newest too, and so does its record. A database deleted before deletions were recorded counts from its
 * newest archive (its final backup).
 */
export async function pruneDeletedDatabases(opts: {
  store: Store;
  target: BackupTarget;
  now?: Date;
  /** Stops the sweep before the next database (the rest waits for the next sweep). */
  signal?: AbortSignal;
}): Promise<PruneResult & { databases: number }> {
  const { store } = opts;
  const now = (opts.now ?? new Date()).getTime();
  const result = { pruned: [] as string[], failed: [] as { id: string; reason: string }[], databases: 0 };
  for (const subject of store.backups.listSubjectsWithoutDatabase()) {
    if (opts.signal?.aborted) break;
    const deleted = store.backups.findDeleted(subject);
    const backups = store.backups.list(subject);
    const since = deleted?.deletedAt ?? backups[0]?.createdAt;
    const keepDays = deleted?.keepDays ?? store.backups.findSchedule(subject)?.keepDays ?? DEFAULT_KEEP_DAYS;
    if (since && Date.parse(since) + keepDays * DAY_MS > now) continue;
    let left = 0;
    for (const b of backups) {
      if (b.status === 'running') {
        left++;
        continue;
      }
      try {
        await opts.target.delete(b.key);
        store.backups.delete(b.id);
        result.pruned.push(b.id);
      } catch (err) {
        left++;
        result.failed.push({ id: b.id, reason: sentence(errorMessage(err)) });
      }
    }
    if (left === 0) {
      store.backups.forgetDeleted(subject);
      store.backups.deleteSchedule(subject);
      result.databases++;
    }
  }
  return result;
}

/**
 * The point-in-time archives (base backups, WAL files, tail) of deleted databases: kept for the restore window
 * the database had, counted from its deletion (or, without that record, from the newest thing it archived),
 * then all of it goes. Objects first, then their rows, so a failed delete is retried by the next sweep.
 */
export async function pruneDeletedWalArchives(opts: {
  store: Store;
  target: BackupTarget;
  now?: Date;
  /** Stops the sweep before the next file (what is left waits for the next sweep). */
  signal?: AbortSignal;
}): Promise<{ databases: number; files: number; failed: string[] }> {
  const { store, target } = opts;
  const archive = store.walArchive;
  const now = (opts.now ?? new Date()).getTime();
  const result = { databases: 0, files: 0, failed: [] as string[] };
  for (const subject of archive.subjectsWithoutDatabase()) {
    if (opts.signal?.aborted) break;
    const bases = archive.listBases(subject);
    const wal = archive.listWal(subject);
    const tail = archive.findTail(subject);
    const newest = [...bases.map((b) => b.createdAt), ...wal.map((f) => f.closedAt), tail?.closedAt ?? '']
      .sort()
      .pop();
    const since = store.backups.findDeleted(subject)?.deletedAt ?? newest;
    const windowDays = archive.findSettings(subject)?.windowDays ?? DEFAULT_WINDOW_DAYS;
    if (!since || Date.parse(since) + windowDays * DAY_MS > now) continue;
    try {
      if (tail) {
        await target.delete(tail.key);
        archive.deleteTail(subject);
      }
      for (const f of wal) {
        if (opts.signal?.aborted) return result;
        await target.delete(f.key);
        archive.deleteWal(subject, f.name);
        result.files++;
      }
      for (const b of bases) {
        if (opts.signal?.aborted) return result;
        await target.delete(b.key);
        archive.deleteBase(b.id);
        result.files++;
      }
      await sweepTails({ store, target, subject });
      archive.deleteSettings(subject);
      result.databases++;
    } catch (err) {
      result.failed.push(
        `The archive of deleted database ${subject.serviceId} (${subject.environmentId}) could not be pruned: ${sentence(errorMessage(err))}`,
      );
    }
  }
  return result;
}
