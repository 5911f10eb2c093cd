/**
 * One logical backup of one database: `pg_dump -Fc` streamed into the backup target, read back and checked
 * (verify.ts), the outcome written to the manifest. Never silent: every failure is recorded with its reason.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { BackupRecord, BackupSubject } from '../core/backup-model.js';
import { errorMessage } from '../core/errors.js';
import type { JobGroups } from '../runtime/job-groups.js';
import type { Store } from '../store/store.js';
import { HashMeter } from './hash-meter.js';
import { type PgConnection, type PgTools, passfileLine, pgDumpArgv, pgToolEnv } from './pg-argv.js';
import type { BackupTarget } from './target.js';
import { formatDuration, sentence } from './text.js';
import { startTool, toolError } from './tool-run.js';
import { checkStoredArchive } from './verify.js';
import { workDirOf } from './work-dir.js';

/** A dump that takes longer than this is stopped and recorded as failed. */
export const DEFAULT_BACKUP_TIMEOUT_MS = 2 * 60 * 60 * 1000;

export interface PgBackupOptions {
  store: Store;
  target: BackupTarget;
  tools: PgTools;
  subject: BackupSubject;
  connection: PgConnection;
  timeoutMs?: number;
  /** Aborting cancels the run: pg_dump's group is stopped and the run recorded as cancelled. */
  signal?: AbortSignal;
  /** Where the run's private passfile lives for its duration (default: the OS temp dir). */
  workDir?: string;
  jobs?: JobGroups;
  /** Called with pg_dump's pid once it runs. */
  onDumpStarted?: (pid: number) => void;
}

/** `pg_dump/<service>/<environment>/<UTC time>-<id>.dump`: sorted by time within a database. */
export function archiveKey(subject: BackupSubject, id: string, createdAt: string): string {
  const stamp = createdAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `pg_dump/${subject.serviceId}/${subject.environmentId}/${stamp}-${id}.dump`;
}

/** Runs one backup; resolves with its manifest record, verified or failed with the reason. Never rejects. */
export async function runPgDumpBackup(opts: PgBackupOptions): Promise<BackupRecord> {
  const { store, target, subject } = opts;
  const record = store.backups.begin(subject, 'pg_dump', (id, createdAt) =>
    archiveKey(subject, id, createdAt),
  );
  const timeoutMs = opts.timeoutMs ?? DEFAULT_BACKUP_TIMEOUT_MS;
  const run = new AbortController();
  const timer = setTimeout(() => run.abort(new TimeoutReason()), timeoutMs);
  const onCancel = () => run.abort(opts.signal?.reason);
  if (opts.signal?.aborted) onCancel();
  else opts.signal?.addEventListener('abort', onCancel, { once: true });
  const stopped = (): string | null =>
    run.signal.aborted
      ? run.signal.reason instanceof TimeoutReason
        ? `The backup took longer than ${formatDuration(timeoutMs)} and was stopped.`
        : 'The backup was cancelled before it finished.'
      : null;

  const secrets = fs.mkdtempSync(path.join(workDirOf(opts.workDir), 'berth-pgpass-'));
  let written: { sizeBytes: number; sha256: string } | undefined;
  try {
    const passfile = path.join(secrets, 'pgpass');
    fs.writeFileSync(passfile, passfileLine(opts.connection.password), { mode: 0o600 });
    const env = pgToolEnv(passfile);

    const dump = startTool(pgDumpArgv(opts.tools, opts.connection), {
      env,
      stdout: 'pipe',
      signal: run.signal,
      jobs: opts.jobs,
    });
    if (dump.pid !== null) opts.onDumpStarted?.(dump.pid);
    const meter = new HashMeter();
    dump.stdout?.pipe(meter);
    const put = target.put(record.key, meter, { signal: run.signal }).catch((err: unknown) => {
      dump.stop(); // nobody reads pg_dump's output any more
      throw err;
    });
    const [dumped, stored] = await Promise.allSettled([dump.done, put]);
    const outcome = dumped.status === 'fulfilled' ? dumped.value : null;
    written = { sizeBytes: meter.bytes, sha256: meter.digest() };

    const failure =
      stopped() ??
      (outcome && outcome.code !== 0 ? `pg_dump failed: ${toolError('pg_dump', outcome)}` : null) ??
      (stored.status === 'rejected'
        ? `Storing the archive failed: ${sentence(errorMessage(stored.reason))}`
        : null);
    if (failure) {
      await target.delete(record.key).catch(() => {});
      return store.backups.markFailed(record.id, failure);
    }
    if (stored.status === 'fulfilled' && stored.value.sizeBytes !== written.sizeBytes) {
      return store.backups.markFailed(
        record.id,
        `The backup target stored ${stored.value.sizeBytes} bytes of the ${written.sizeBytes} pg_dump wrote.`,
        written,
      );
    }

    const check = await checkStoredArchive({
      target,
      key: record.key,
      expected: written,
      tools: opts.tools,
      env,
      signal: run.signal,
      jobs: opts.jobs,
    }).catch((err: unknown) => ({
      ok: false,
      reason: `Reading the archive back failed: ${sentence(errorMessage(err))}`,
    }));
    const interrupted = stopped();
    if (interrupted) return store.backups.markFailed(record.id, interrupted, written);
    if (!check.ok)
      return store.backups.markFailed(record.id, check.reason ?? 'The archive failed its check.', written);
    return store.backups.markVerified(record.id, written.sizeBytes, written.sha256);
  } catch (err) {
    return store.backups.markFailed(record.id, `The backup failed: ${sentence(errorMessage(err))}`, written);
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onCancel);
    fs.rmSync(secrets, { recursive: true, force: true });
  }
}

class TimeoutReason extends Error {}
