/**
 * Retention: archives older than the keep window go from the target and then from the manifest, except
 * the newest verified archive, which is kept however old so a database always has one to restore.
 */
import type { BackupSubject } from '../core/backup-model.js';
import { errorMessage, UserError } from '../core/errors.js';
import type { Store } from '../store/store.js';
import type { BackupTarget } from './target.js';
import { sentence } from './text.js';

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
