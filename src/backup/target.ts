/**
 * Where archives go: one small interface for pg_dump archives now, base backups, WAL and Redis snapshots
 * next. Implemented by a local directory (local-target.ts) and any S3 endpoint (s3-target.ts).
 */
import type { Readable } from 'node:stream';
import { UserError } from '../core/errors.js';

export interface StoredObject {
  key: string;
  sizeBytes: number;
  modifiedAt: Date;
}

export interface BackupTarget {
  /** For messages: "directory /var/lib/berth/backups", "s3://bucket/prefix at https://…". */
  readonly description: string;
  /** Stores the stream's bytes under key, replacing any object there; resolves with how many were stored. */
  put(key: string, body: Readable, opts?: { signal?: AbortSignal }): Promise<{ sizeBytes: number }>;
  /** The object's bytes; rejects with BackupObjectMissing when there is none. */
  get(key: string, opts?: { signal?: AbortSignal }): Promise<Readable>;
  stat(key: string): Promise<StoredObject | null>;
  /** Every object whose key starts with prefix, in key order. */
  list(prefix: string): Promise<StoredObject[]>;
  /** Removes the object; a missing one is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Removes what puts interrupted by a crash left behind (temp files, incomplete multipart uploads); call it
   * at daemon start, before any put. Resolves with how many were removed.
   */
  sweep(): Promise<number>;
}

export class BackupObjectMissing extends UserError {
  constructor(target: BackupTarget, key: string) {
    super(`The archive "${key}" is missing from the backup target (${target.description}).`, {
      status: 404,
      code: 'backup_missing',
    });
    this.name = 'BackupObjectMissing';
  }
}

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/**
 * Keys are "/"-separated segments of letters, digits, '.', '_' and '-', not starting with '.', so a key
 * means the same in a directory and a bucket and can never climb out of either ("..", absolute paths).
 */
export function assertValidKey(key: string): void {
  const segments = key.split('/');
  if (key.length === 0 || key.length > 1024 || !segments.every((s) => SEGMENT.test(s))) {
    throw new UserError(
      `"${key}" is not a valid backup key: use "/"-separated names of letters, digits, ".", "_" and "-", none starting with ".".`,
    );
  }
}

/** A prefix is a key, or a key followed by "/", or empty (everything). */
export function assertValidPrefix(prefix: string): void {
  if (prefix === '') return;
  assertValidKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
}
