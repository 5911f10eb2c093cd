/**
 * One Redis backup: `redis-cli --rdb` takes a point-in-time snapshot over the connection into a private file,
 * which is uploaded (hashed on the way), fetched back and checked by redis-check-rdb (redis-check.ts). The
 * outcome goes to the manifest, every failure with its reason. Redis's own dump.rdb is never read or written.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream';
import type { BackupRecord, BackupSubject } from '../core/backup-model.js';
import { errorMessage } from '../core/errors.js';
import { HashMeter } from './hash-meter.js';
import { type BackupMethod, type BackupRunOptions, keyFor } from './method.js';
import { DEFAULT_BACKUP_TIMEOUT_MS } from './pg-backup.js';
import { type RedisConnection, type RedisTools, redisRdbArgv, redisToolEnv } from './redis-argv.js';
import { checkStoredRdb, verifyRedisBackup } from './redis-check.js';
import { formatDuration, sentence } from './text.js';
import { startTool, toolError } from './tool-run.js';
import { workDirOf } from './work-dir.js';

/** `redis_rdb/<service>/<environment>/<UTC time>-<id>.rdb`. */
export function rdbArchiveKey(subject: BackupSubject, id: string, createdAt: string): string {
  return keyFor('redis_rdb', subject, id, createdAt, '.rdb');
}

/** Redis's backups as a BackupMethod; `tools` is asked at each run. */
export function redisRdbMethod(tools: () => RedisTools): BackupMethod<RedisConnection> {
  return {
    kind: 'redis_rdb',
    archiveKey: rdbArchiveKey,
    run: (o) => runRedisRdbBackup({ ...o, tools: tools() }),
    verify: (o) => verifyRedisBackup({ ...o, tools: tools() }),
  };
}

/** Runs one backup; resolves with its manifest record, verified or failed with the reason. Never rejects. */
export async function runRedisRdbBackup(
  opts: BackupRunOptions<RedisConnection> & { tools: RedisTools },
): Promise<BackupRecord> {
  const { store, target, subject, tools } = opts;
  const record = store.backups.begin(subject, 'redis_rdb', (id, at) => rdbArchiveKey(subject, id, at));
  const timeoutMs = opts.timeoutMs ?? DEFAULT_BACKUP_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(timeoutMs);
  const run = AbortSignal.any([timeout, ...(opts.signal ? [opts.signal] : [])]);
  const stopped = (): string | null =>
    opts.signal?.aborted
      ? 'The backup was cancelled before it finished.'
      : timeout.aborted
        ? `The backup took longer than ${formatDuration(timeoutMs)} and was stopped.`
        : null;

  const work = fs.mkdtempSync(path.join(workDirOf(opts.workDir), 'berth-rdb-'));
  let written: { sizeBytes: number; sha256: string } | undefined;
  try {
    // 1. The snapshot, taken by the server (a fork, as for a replica) and sent to us.
    const snapshot = path.join(work, 'snapshot.rdb');
    const cli = startTool(redisRdbArgv(tools, opts.connection, snapshot), {
      env: redisToolEnv(opts.connection.password),
      signal: run,
      jobs: opts.jobs,
    });
    const taken = await cli.done;
    const notTaken =
      stopped() ??
      (taken.code !== 0 || !fs.existsSync(snapshot)
        ? `redis-cli could not take the snapshot: ${toolError('redis-cli', taken)}`
        : null);
    if (notTaken) return store.backups.markFailed(record.id, notTaken);

    // 2. Uploaded, hashed on the way.
    const meter = new HashMeter();
    // pipeline, not pipe: a read error destroys the meter, so the put fails with it instead of waiting for more.
    pipeline(fs.createReadStream(snapshot), meter, () => {});
    const stored = await target.put(record.key, meter, { signal: run }).then(
      (s) => ({ ok: true as const, sizeBytes: s.sizeBytes }),
      (err: unknown) => ({ ok: false as const, err }),
    );
    written = { sizeBytes: meter.bytes, sha256: meter.digest() };
    const notStored =
      stopped() ?? (!stored.ok ? `Storing the snapshot failed: ${sentence(errorMessage(stored.err))}` : null);
    if (notStored) {
      await target.delete(record.key).catch(() => {});
      return store.backups.markFailed(record.id, notStored);
    }
    if (stored.ok && stored.sizeBytes !== written.sizeBytes) {
      return store.backups.markFailed(
        record.id,
        `The backup target stored ${stored.sizeBytes} bytes of the ${written.sizeBytes} redis-cli wrote.`,
        written,
      );
    }
    fs.rmSync(snapshot, { force: true });

    // 3. What was stored, fetched back and checked: size, SHA-256, redis-check-rdb.
    const check = await checkStoredRdb({
      target,
      key: record.key,
      expected: written,
      tools,
      file: path.join(work, 'stored.rdb'),
      signal: run,
      jobs: opts.jobs,
    }).catch((err: unknown) => ({
      ok: false,
      reason: `Reading the snapshot back failed: ${sentence(errorMessage(err))}`,
    }));
    const interrupted = stopped();
    if (interrupted) return store.backups.markFailed(record.id, interrupted, written);
    if (!check.ok)
      return store.backups.markFailed(record.id, check.reason ?? 'The snapshot failed its check.', written);
    return store.backups.markVerified(record.id, written.sizeBytes, written.sha256);
  } catch (err) {
    return store.backups.markFailed(record.id, `The backup failed: ${sentence(errorMessage(err))}`, written);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
