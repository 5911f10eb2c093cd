/**
 * What one engine's backups are made of (pg_dump archives, Redis RDB snapshots): how an archive is named, made,
 * and checked again. The scheduler and src/data/backups.ts run every engine through this, never by name.
 */
import type { BackupKind, BackupRecord, BackupSubject } from '../core/backup-model.js';
import type { JobGroups } from '../runtime/job-groups.js';
import type { Store } from '../store/store.js';
import type { BackupTarget } from './target.js';

export interface BackupRunOptions<C> {
  store: Store;
  target: BackupTarget;
  subject: BackupSubject;
  connection: C;
  timeoutMs?: number;
  /** Aborting cancels the run; it is recorded as cancelled. */
  signal?: AbortSignal;
  /** Where the run keeps its private files (default: the OS temp dir). */
  workDir?: string;
  jobs?: JobGroups;
}

export interface BackupCheckOptions {
  store: Store;
  target: BackupTarget;
  backupId: string;
  signal?: AbortSignal;
  workDir?: string;
  jobs?: JobGroups;
}

/** One engine's backups; C is how its database is reached. */
export interface BackupMethod<C> {
  readonly kind: BackupKind;
  /** The archive's key in the target, from the manifest row's id and creation time. */
  archiveKey(subject: BackupSubject, id: string, createdAt: string): string;
  /** One backup now; resolves with its record, verified or failed with the reason. Never rejects. */
  run(opts: BackupRunOptions<C>): Promise<BackupRecord>;
  /** Checks a recorded archive again as stored now; one that fails is marked failed with the reason. */
  verify(opts: BackupCheckOptions): Promise<BackupRecord>;
}

/** `<kind>/<service>/<environment>/<UTC time>-<id><extension>`: sorted by time within a database. */
export function keyFor(
  prefix: string,
  subject: BackupSubject,
  id: string,
  createdAt: string,
  extension: string,
): string {
  const stamp = createdAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${prefix}/${subject.serviceId}/${subject.environmentId}/${stamp}-${id}${extension}`;
}
