/**
 * Checks a Redis snapshot as stored: fetched once from the target into a private file (hashed and counted on
 * the way), compared with what was written, then `redis-check-rdb` reads that copy — the bytes a restore gets.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { BackupRecord } from '../core/backup-model.js';
import { errorMessage } from '../core/errors.js';
import type { JobGroups } from '../runtime/job-groups.js';
import { HashMeter } from './hash-meter.js';
import type { BackupCheckOptions } from './method.js';
import { keysRead, type RedisTools, redisCheckRdbArgv, redisToolEnv } from './redis-argv.js';
import type { BackupTarget } from './target.js';
import { sentence } from './text.js';
import { startTool, toolError } from './tool-run.js';
import { workDirOf } from './work-dir.js';

export interface RdbCheck {
  ok: boolean;
  /** One sentence when not ok. */
  reason: string | null;
  sizeBytes: number;
  sha256: string;
  /** Keys in the snapshot, as redis-check-rdb counted them. */
  keys: number | null;
}

/** Copies the stored object to `file` (0600), hashing and counting it. */
export async function fetchObject(
  target: BackupTarget,
  key: string,
  file: string,
  signal?: AbortSignal,
): Promise<{ sizeBytes: number; sha256: string }> {
  const meter = new HashMeter();
  const stored = await target.get(key, { signal });
  await pipeline(stored, meter, fs.createWriteStream(file, { mode: 0o600 }), ...(signal ? [{ signal }] : []));
  return { sizeBytes: meter.bytes, sha256: meter.digest() };
}

/** redis-check-rdb over a local file: ok with its key count, or the damage it found in one sentence. */
export async function checkRdbFile(
  tools: RedisTools,
  file: string,
  opts: { signal?: AbortSignal; jobs?: JobGroups } = {},
): Promise<{ ok: boolean; reason: string | null; keys: number | null }> {
  const run = startTool(redisCheckRdbArgv(tools, file), {
    env: redisToolEnv(null),
    stdout: 'pipe',
    signal: opts.signal,
    jobs: opts.jobs,
  });
  let out = '';
  run.stdout?.setEncoding('utf8');
  run.stdout?.on('data', (t: string) => {
    out = (out + t).slice(-64 * 1024);
  });
  const outcome = await run.done;
  const keys = keysRead(out);
  if (outcome.code === 0 && out.includes('RDB looks OK')) return { ok: true, reason: null, keys };
  const damage = rdbDamage(out);
  return {
    ok: false,
    keys,
    reason: damage
      ? `redis-check-rdb finds the stored snapshot damaged: ${damage}`
      : `redis-check-rdb cannot read the stored snapshot: ${toolError('redis-check-rdb', outcome)}`,
  };
}

/** "--- RDB ERROR DETECTED ---\n[offset 187] RDB CRC error\n[additional info] While doing: check-sum" → one sentence. */
export function rdbDamage(output: string): string | null {
  const lines = output.split('\n').map((l) => l.trim());
  const at = lines.indexOf('--- RDB ERROR DETECTED ---');
  if (at < 0 || !lines[at + 1]) return null;
  const m = /^\[offset (\d+)\] (.*)$/.exec(lines[at + 1]);
  const what = m ? `${m[2]} at byte ${m[1]}` : lines[at + 1];
  const doing = /^\[additional info\] While doing: (.*)$/.exec(lines[at + 2] ?? '')?.[1];
  return sentence(doing ? `${what} (while reading its ${doing})` : what);
}

/** The stored object fetched into `file` and checked against what was written. */
export async function checkStoredRdb(opts: {
  target: BackupTarget;
  key: string;
  expected: { sizeBytes: number; sha256: string };
  tools: RedisTools;
  file: string;
  signal?: AbortSignal;
  jobs?: JobGroups;
}): Promise<RdbCheck> {
  const got = await fetchObject(opts.target, opts.key, opts.file, opts.signal);
  const result = (reason: string | null, keys: number | null = null): RdbCheck => ({
    ok: reason === null,
    reason,
    keys,
    ...got,
  });
  if (got.sizeBytes !== opts.expected.sizeBytes) {
    return result(
      `The stored snapshot is ${got.sizeBytes} bytes but ${opts.expected.sizeBytes} were written, so it was truncated or replaced in the backup target.`,
    );
  }
  if (got.sha256 !== opts.expected.sha256) {
    return result(
      "The stored snapshot's SHA-256 differs from what was written, so its bytes changed in the backup target.",
    );
  }
  const check = await checkRdbFile(opts.tools, opts.file, opts);
  return result(check.reason, check.keys);
}

/** Checks a recorded snapshot again as stored now; one that fails is marked failed with the reason. */
export async function verifyRedisBackup(
  opts: BackupCheckOptions & { tools: RedisTools },
): Promise<BackupRecord> {
  const b = opts.store.backups.get(opts.backupId);
  if (b.status !== 'verified' || b.sizeBytes === null || b.sha256 === null) return b;
  const dir = fs.mkdtempSync(path.join(workDirOf(opts.workDir), 'berth-rdb-'));
  try {
    const check = await checkStoredRdb({
      target: opts.target,
      key: b.key,
      expected: { sizeBytes: b.sizeBytes, sha256: b.sha256 },
      tools: opts.tools,
      file: path.join(dir, 'stored.rdb'),
      signal: opts.signal,
      jobs: opts.jobs,
    }).catch((err: unknown) => ({
      ok: false,
      reason: `Reading the snapshot back failed: ${sentence(errorMessage(err))}`,
    }));
    if (opts.signal?.aborted) return b;
    return check.ok
      ? b
      : opts.store.backups.markFailed(b.id, check.reason ?? 'The snapshot failed its check.');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
