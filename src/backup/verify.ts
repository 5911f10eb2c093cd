/**
 * Checks an archive as it is stored: reads it back from the target once, hashing and counting the bytes
 * while pg_restore --list reads its table of contents, and compares size and SHA-256 with what was written.
 */
import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import type { BackupRecord } from '../core/backup-model.js';
import { errorMessage } from '../core/errors.js';
import type { JobGroups } from '../runtime/job-groups.js';
import type { Store } from '../store/store.js';
import { type PgTools, pgRestoreListArgv, pgToolEnv } from './pg-argv.js';
import type { BackupTarget } from './target.js';
import { sentence } from './text.js';
import { startTool, toolError } from './tool-run.js';

export interface ArchiveCheck {
  ok: boolean;
  /** One sentence when not ok. */
  reason: string | null;
  sizeBytes: number;
  sha256: string;
  /** Entries in the archive's table of contents (tables, their data, indexes, ...). */
  entries: number;
}

export async function checkStoredArchive(opts: {
  target: BackupTarget;
  key: string;
  expected: { sizeBytes: number; sha256: string };
  tools: PgTools;
  env: Record<string, string>;
  signal?: AbortSignal;
  jobs?: JobGroups;
}): Promise<ArchiveCheck> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  const list = startTool(pgRestoreListArgv(opts.tools), {
    env: opts.env,
    stdin: 'pipe',
    stdout: 'pipe',
    signal: opts.signal,
    jobs: opts.jobs,
  });
  let entries = 0;
  let pending = '';
  list.stdout?.setEncoding('utf8');
  list.stdout?.on('data', (text: string) => {
    const lines = (pending + text).split('\n');
    pending = lines.pop() ?? '';
    entries += lines.filter(isTocEntry).length;
  });
  let readError: unknown = null;
  try {
    const stored = await opts.target.get(opts.key, { signal: opts.signal });
    let restoreReading = true;
    for await (const chunk of stored as AsyncIterable<Buffer>) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      hash.update(chunk);
      sizeBytes += chunk.length;
      // pg_restore --list stops reading after the table of contents; the rest is only hashed.
      if (restoreReading && list.stdin) restoreReading = await write(list.stdin, chunk);
    }
  } catch (err) {
    readError = err;
    list.stop();
  } finally {
    list.stdin?.end();
  }
  const outcome = await list.done;
  if (isTocEntry(pending)) entries++;
  const sha256 = hash.digest('hex');
  const result = (reason: string | null): ArchiveCheck => ({
    ok: reason === null,
    reason,
    sizeBytes,
    sha256,
    entries,
  });
  if (readError) throw readError;
  if (sizeBytes !== opts.expected.sizeBytes) {
    return result(
      `The stored archive is ${sizeBytes} bytes but ${opts.expected.sizeBytes} were written, so it was truncated or replaced in the backup target.`,
    );
  }
  if (sha256 !== opts.expected.sha256) {
    return result(
      "The stored archive's SHA-256 differs from what was written, so its bytes changed in the backup target.",
    );
  }
  if (outcome.code !== 0)
    return result(`pg_restore cannot read the stored archive: ${toolError('pg_restore', outcome)}`);
  return result(null);
}

/**
 * Checks an archive again as it is stored now (a periodic check, or before trusting an old one) and records
 * the result: an archive that fails is marked failed with the reason; one that passes stays as it was.
 */
export async function verifyBackup(opts: {
  store: Store;
  target: BackupTarget;
  tools: PgTools;
  backupId: string;
  signal?: AbortSignal;
  jobs?: JobGroups;
}): Promise<BackupRecord> {
  const b = opts.store.backups.get(opts.backupId);
  if (b.status !== 'verified' || b.sizeBytes === null || b.sha256 === null) return b;
  const check = await checkStoredArchive({
    target: opts.target,
    key: b.key,
    expected: { sizeBytes: b.sizeBytes, sha256: b.sha256 },
    tools: opts.tools,
    env: pgToolEnv(null),
    signal: opts.signal,
    jobs: opts.jobs,
  }).catch((err: unknown) => ({
    ok: false,
    reason: `Reading the archive back failed: ${sentence(errorMessage(err))}`,
  }));
  if (opts.signal?.aborted) return b;
  return check.ok ? b : opts.store.backups.markFailed(b.id, check.reason ?? 'The archive failed its check.');
}

function isTocEntry(line: string): boolean {
  return line.trim() !== '' && !line.startsWith(';');
}

/** Writes with backpressure; false once the reader has closed its end. */
function write(to: Writable, chunk: Buffer): Promise<boolean> {
  if (to.destroyed || to.writableEnded) return Promise.resolve(false);
  return new Promise((resolve) => {
    const ok = to.write(chunk, (err) => {
      if (err) resolve(false);
    });
    if (ok) return resolve(true);
    const onDrain = () => {
      to.off('close', onClose);
      resolve(true);
    };
    const onClose = () => {
      to.off('drain', onDrain);
      resolve(false);
    };
    to.once('drain', onDrain);
    to.once('close', onClose);
  });
}
