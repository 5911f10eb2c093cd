/**
 * One base backup of one database for point-in-time recovery: pg_basebackup's tar (no WAL: the archive has
 * it) gzipped into the backup target, read back and checked, its start WAL file read from its backup_label.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type TransformCallback, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { errorMessage } from '../core/errors.js';
import type { BaseBackupRecord } from '../core/pitr-model.js';
import { HashMeter } from './hash-meter.js';
import { passfileLine, pgToolEnv } from './pg-argv.js';
import type { PgBackupOptions } from './pg-backup.js';
import { baseBackupArgv, baseBackupKey, baseBackupLabel, startWalOf } from './pitr-argv.js';
import type { BackupTarget } from './target.js';
import { formatDuration, sentence } from './text.js';
import { startTool, toolError } from './tool-run.js';
import { workDirOf } from './work-dir.js';

export const DEFAULT_BASE_BACKUP_TIMEOUT_MS = 4 * 60 * 60 * 1000;

/** What a pg_dump run takes, less its start hook (aborting stops pg_basebackup's group instead). */
export type BaseBackupOptions = Omit<PgBackupOptions, 'onDumpStarted'>;

/** Runs one base backup; resolves with its record, verified or failed with the reason. Never rejects. */
export async function runBaseBackup(o: BaseBackupOptions): Promise<BaseBackupRecord> {
  const { store, target, subject } = o;
  const record = store.walArchive.beginBase(subject, (id, at) => baseBackupKey(subject, id, at));
  const timeoutMs = o.timeoutMs ?? DEFAULT_BASE_BACKUP_TIMEOUT_MS;
  const run = new AbortController();
  const timer = setTimeout(() => run.abort(new TimeoutReason()), timeoutMs);
  const onCancel = () => run.abort(o.signal?.reason);
  if (o.signal?.aborted) onCancel();
  else o.signal?.addEventListener('abort', onCancel, { once: true });
  const stopped = (): string | null =>
    run.signal.aborted
      ? run.signal.reason instanceof TimeoutReason
        ? `The base backup took longer than ${formatDuration(timeoutMs)} and was stopped.`
        : 'The base backup was cancelled before it finished.'
      : null;
  const secrets = fs.mkdtempSync(path.join(workDirOf(o.workDir), 'berth-pgpass-'));
  const fail = async (reason: string) => {
    await target.delete(record.key).catch(() => {});
    return store.walArchive.markBaseFailed(record.id, reason);
  };
  try {
    const passfile = path.join(secrets, 'pgpass');
    fs.writeFileSync(passfile, passfileLine(o.connection.password), { mode: 0o600 });
    const tool = startTool(baseBackupArgv(o.tools, o.connection, baseBackupLabel(record.id)), {
      env: pgToolEnv(passfile),
      stdout: 'pipe',
      signal: run.signal,
      jobs: o.jobs,
    });
    const label = new BackupLabelPeek();
    const meter = new HashMeter();
    const put = target.put(record.key, meter, { signal: run.signal }).catch((err: unknown) => {
      tool.stop();
      throw err;
    });
    const piped = tool.stdout
      ? pipeline(tool.stdout, label, createGzip({ level: 1 }), meter)
      : Promise.reject(new Error('pg_basebackup has no output'));
    const [outcome, stored, streamed] = await Promise.allSettled([tool.done, put, piped]);
    const failure =
      stopped() ??
      (outcome.status === 'fulfilled' && outcome.value.code !== 0
        ? `pg_basebackup failed: ${toolError('pg_basebackup', outcome.value)}`
        : null) ??
      (stored.status === 'rejected'
        ? `Storing the base backup failed: ${sentence(errorMessage(stored.reason))}`
        : null) ??
      (streamed.status === 'rejected'
        ? `Reading pg_basebackup's output failed: ${sentence(errorMessage(streamed.reason))}`
        : null);
    if (failure) return await fail(failure);
    const startWal = startWalOf(label.text());
    if (!startWal)
      return await fail('The base backup has no backup_label with its start WAL file, so it cannot be used.');
    const written = { sizeBytes: meter.bytes, sha256: meter.digest() };
    const back = await readBack(target, record.key, run.signal).catch((err: unknown) => ({
      error: `Reading the base backup back failed: ${sentence(errorMessage(err))}`,
    }));
    const interrupted = stopped();
    if (interrupted) return await fail(interrupted);
    if ('error' in back) return await fail(back.error);
    if (back.sizeBytes !== written.sizeBytes || back.sha256 !== written.sha256) {
      return await fail(
        `The stored base backup (${back.sizeBytes} bytes) differs from what was written (${written.sizeBytes} bytes), so the backup target changed its bytes.`,
      );
    }
    return store.walArchive.markBaseVerified(record.id, { startWal, ...written });
  } catch (err) {
    return await fail(`The base backup failed: ${sentence(errorMessage(err))}`);
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', onCancel);
    fs.rmSync(secrets, { recursive: true, force: true });
  }
}

async function readBack(
  target: BackupTarget,
  key: string,
  signal: AbortSignal,
): Promise<{ sizeBytes: number; sha256: string }> {
  const meter = new HashMeter();
  // Only the meter's count and hash matter: the bytes go nowhere.
  const sink = new Writable({ write: (_chunk, _enc, cb) => cb() });
  await pipeline(await target.get(key, { signal }), meter, sink);
  return { sizeBytes: meter.bytes, sha256: meter.digest() };
}

/** Passes the tar through, keeping the content of its backup_label entry (pg_basebackup writes it first). */
class BackupLabelPeek extends Transform {
  private head = Buffer.alloc(0);
  private done = false;
  private label = '';

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (!this.done) {
      this.head = Buffer.concat([this.head, chunk]);
      this.scan();
    }
    cb(null, chunk);
  }

  private scan(): void {
    let at = 0;
    // Give up after 1 MiB: a tar without a backup_label near its start is reported as such by the caller.
    while (this.head.length < 1024 * 1024) {
      if (at + 512 > this.head.length) return; // wait for more
      const name = field(this.head, at, 100);
      if (name === '') break;
      const size = Number.parseInt(field(this.head, at + 124, 12).trim() || '0', 8);
      if (at + 512 + size > this.head.length) return;
      if (name === 'backup_label') {
        this.label = this.head.subarray(at + 512, at + 512 + size).toString('utf8');
        break;
      }
      at += 512 + Math.ceil(size / 512) * 512;
    }
    this.done = true;
    this.head = Buffer.alloc(0);
  }

  text(): string {
    return this.label;
  }
}

/** A NUL-terminated field of a tar header. */
function field(b: Buffer, at: number, length: number): string {
  const raw = b.subarray(at, at + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? raw.length : end).toString('utf8');
}

class TimeoutReason extends Error {}
