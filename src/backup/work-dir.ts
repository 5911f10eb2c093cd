/**
 * Where backup and restore runs keep private files for their duration (a passfile, a fetched archive), each
 * run in a 0700 temp dir of its own; the daemon passes `<data-dir>/backup-work` so a crash's leftovers are
 * found and removed at the next start (recovery.ts). Without one, the OS temp dir.
 */
import fs from 'node:fs';
import os from 'node:os';

export const WORK_DIR_PREFIXES = ['berth-pgpass-', 'berth-restore-', 'berth-rdb-'];

export function workDirOf(dir: string | undefined): string {
  if (!dir) return os.tmpdir();
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}
