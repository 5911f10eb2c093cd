/**
 * Restores a verified pg_dump archive into a new, empty database. The archive is fetched to a private temp
 * file and checked (size, SHA-256, pg_restore --list) before the database is touched; the restore runs in one
 * transaction, so a failure leaves the database empty. The database the backup came from is never connected to.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BackupRecord } from '../core/backup-model.js';
import { errorMessage, UserError } from '../core/errors.js';
import type { JobGroups } from '../runtime/job-groups.js';
import type { Store } from '../store/store.js';
import {
  type PgConnection,
  type PgTools,
  passfileLine,
  pgRestoreArgv,
  pgRestoreListArgv,
  pgToolEnv,
  psqlQueryArgv,
  USER_OBJECTS_QUERY,
} from './pg-argv.js';
import { BackupObjectMissing, type BackupTarget } from './target.js';
import { formatDuration, sentence } from './text.js';
import { startTool, toolError } from './tool-run.js';
import { workDirOf } from './work-dir.js';

export const DEFAULT_RESTORE_TIMEOUT_MS = 2 * 60 * 60 * 1000;

export interface PgRestoreOptions {
  store: Store;
  target: BackupTarget;
  tools: PgTools;
  backupId: string;
  /** The new database to restore into; it must be empty. */
  into: PgConnection;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Where the archive is fetched to for the restore (default: the OS temp dir); needs its size free. */
  workDir?: string;
  jobs?: JobGroups;
}

export interface RestoreResult {
  backup: BackupRecord;
  /** Entries of the archive's table of contents that were restored. */
  entries: number;
}

/** Resolves when the database holds the backup; otherwise rejects with a UserError saying what happened. */
export async function restorePgDump(opts: PgRestoreOptions): Promise<RestoreResult> {
  const backup = opts.store.backups.get(opts.backupId);
  if (backup.status !== 'verified' || backup.sizeBytes === null || backup.sha256 === null) {
    const why = backup.status === 'running' ? 'it is still being written' : backup.error;
    throw new UserError(
      `Backup ${backup.id} is not verified (${why}); restore a verified one from \`berth backup list\`.`,
      { status: 409, code: 'backup_not_verified' },
    );
  }
  const timeoutMs = opts.timeoutMs ?? DEFAULT_RESTORE_TIMEOUT_MS;
  const run = AbortSignal.any([AbortSignal.timeout(timeoutMs), ...(opts.signal ? [opts.signal] : [])]);
  const interrupted = () =>
    opts.signal?.aborted
      ? 'the restore was cancelled'
      : run.aborted
        ? `the restore took longer than ${formatDuration(timeoutMs)} and was stopped`
        : null;
  const work = fs.mkdtempSync(path.join(workDirOf(opts.workDir), 'berth-restore-'));
  const where = `"${opts.into.database}" at ${opts.into.host}:${opts.into.port}`;
  try {
    const passfile = path.join(work, 'pgpass');
    fs.writeFileSync(passfile, passfileLine(opts.into.password), { mode: 0o600 });
    const env = pgToolEnv(passfile);
    const tool = { env, signal: run, jobs: opts.jobs };

    // 1. The archive, as stored, must still be what was verified.
    const file = path.join(work, 'archive.dump');
    const fetched = await fetchTo(opts.target, backup.key, file, run).catch((err: unknown) => {
      if (err instanceof BackupObjectMissing) opts.store.backups.markFailed(backup.id, err.message);
      throw new UserError(
        `Backup ${backup.id} could not be fetched, so nothing was restored: ${sentence(interrupted() ?? errorMessage(err))}`,
        { status: 502, code: 'restore_failed' },
      );
    });
    let problem: string | null = null;
    if (fetched.sizeBytes !== backup.sizeBytes) {
      problem = `The stored archive is ${fetched.sizeBytes} bytes but ${backup.sizeBytes} were written, so it was truncated or replaced in the backup target.`;
    } else if (fetched.sha256 !== backup.sha256) {
      problem =
        "The stored archive's SHA-256 differs from what was written, so its bytes changed in the backup target.";
    } else {
      const listed = await runCollect(pgRestoreListArgv(opts.tools, file), tool);
      if (listed.outcome.code !== 0) {
        problem = `pg_restore cannot read the stored archive: ${toolError('pg_restore', listed.outcome)}`;
      }
    }
    if (problem) {
      opts.store.backups.markFailed(backup.id, problem);
      throw new UserError(`Backup ${backup.id} failed its check, so nothing was restored: ${problem}`, {
        status: 409,
        code: 'backup_not_verified',
      });
    }

    // 2. Only into an empty database: a restore never merges into (or overwrites) existing data.
    const before = await countUserObjects(opts.tools, opts.into, tool);
    if (before.error) {
      throw new UserError(`Cannot connect to the database to restore into (${where}): ${before.error}`, {
        status: 400,
        code: 'restore_failed',
      });
    }
    if (before.count !== 0) {
      throw new UserError(
        `The database ${where} already holds ${before.count} tables, sequences or schemas; restore into a new, empty database.`,
        { status: 409, code: 'restore_target_not_empty' },
      );
    }

    // 3. One transaction: any error rolls all of it back.
    const restored = await runCollect(pgRestoreArgv(opts.tools, opts.into, file), tool);
    if (restored.outcome.code !== 0 || run.aborted) {
      const why = interrupted() ?? toolError('pg_restore', restored.outcome);
      const after = await countUserObjects(opts.tools, opts.into, { env, jobs: opts.jobs });
      const left =
        after.count === 0
          ? 'was rolled back, leaving the database empty'
          : after.error
            ? `may have left objects in it (they could not be counted: ${after.error.replace(/\.$/, '')})`
            : `left ${after.count} objects in it`;
      throw new UserError(
        `Restoring backup ${backup.id} into ${where} failed and ${left}: ${sentence(why)}`,
        {
          status: 500,
          code: 'restore_failed',
        },
      );
    }
    const listed = await runCollect(pgRestoreListArgv(opts.tools, file), { env, jobs: opts.jobs });
    return {
      backup,
      entries: listed.stdout.split('\n').filter((l) => l.trim() && !l.startsWith(';')).length,
    };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function fetchTo(
  target: BackupTarget,
  key: string,
  file: string,
  signal: AbortSignal,
): Promise<{ sizeBytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      sizeBytes += chunk.length;
      cb(null, chunk);
    },
  });
  const stored = await target.get(key, { signal });
  await pipeline(stored, meter, fs.createWriteStream(file, { mode: 0o600 }), { signal });
  return { sizeBytes, sha256: hash.digest('hex') };
}

async function runCollect(
  argv: string[],
  opts: { env: Record<string, string>; signal?: AbortSignal; jobs?: JobGroups },
): Promise<{ outcome: Awaited<ReturnType<typeof startTool>['done']>; stdout: string }> {
  const run = startTool(argv, { ...opts, stdout: 'pipe' });
  let stdout = '';
  run.stdout?.setEncoding('utf8');
  run.stdout?.on('data', (t: string) => {
    stdout += t;
  });
  const outcome = await run.done;
  return { outcome, stdout };
}

async function countUserObjects(
  tools: PgTools,
  c: PgConnection,
  opts: { env: Record<string, string>; signal?: AbortSignal; jobs?: JobGroups },
): Promise<{ count: number | null; error: string | null }> {
  const r = await runCollect(psqlQueryArgv(tools, c, USER_OBJECTS_QUERY), opts);
  const count = Number(r.stdout.trim());
  if (r.outcome.code !== 0 || r.stdout.trim() === '' || !Number.isInteger(count)) {
    return { count: null, error: toolError('psql', r.outcome) };
  }
  return { count, error: null };
}
