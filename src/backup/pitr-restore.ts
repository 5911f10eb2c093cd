/**
 * Fills a new database service's volume for a point-in-time restore: the base backup extracted into its
 * pgdata (as the service's own user, in its sandbox), the WAL it needs fetched and checked, and the recovery
 * settings; PostgreSQL then replays to the target at its first start and promotes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { BaseBackupRecord, WalFileRecord } from '../core/pitr-model.js';
import { ownedDir, type VolumeOwner, writeOwned } from '../data/volume.js';
import { runOnce } from '../runtime/run-once.js';
import { findSystemTool, type Sandbox } from '../runtime/sandbox.js';
import { HashMeter } from './hash-meter.js';
import type { PgTools } from './pg-argv.js';
import { pgToolEnv } from './pg-argv.js';
import { lastTransactionTime, recoverySettings, walCommitsArgv } from './pitr-argv.js';
import type { BackupTarget } from './target.js';
import { startTool } from './tool-run.js';

const EXTRACT_TIMEOUT_MS = 60 * 60_000;

/** Where a restore keeps its files in the new volume until the database is promoted. */
export function restoreDirOf(volume: string): { dir: string; wal: string; base: string } {
  const dir = path.join(volume, 'pitr-restore');
  return { dir, wal: path.join(dir, 'wal'), base: path.join(dir, 'base.tar.gz') };
}

/** tar extracting a gzipped tar into dir (run as the new service's user: files are its own). */
export function extractArgv(tar: string, file: string, dir: string): string[] {
  return [tar, '--extract', '--gzip', `--file=${file}`, `--directory=${dir}`, '--no-same-owner'];
}

export interface PreparedRecovery {
  /** The instant recovery stops at; null: every fetched WAL file is replayed (no transaction ended after `at`). */
  stopAt: Date | null;
  walFiles: number;
}

export async function prepareRecovery(o: {
  target: BackupTarget;
  tools: PgTools;
  base: BaseBackupRecord;
  segments: readonly WalFileRecord[];
  /** Timeline history files, so recovery can follow a database that was itself restored. */
  histories: readonly WalFileRecord[];
  at: Date;
  volume: string;
  pgdata: string;
  owner: VolumeOwner;
  sandbox?: Sandbox;
  signal?: AbortSignal;
}): Promise<PreparedRecovery> {
  const dirs = restoreDirOf(o.volume);
  for (const d of [dirs.dir, dirs.wal, o.pgdata]) ownedDir(d, o.owner);
  await fetchChecked(o.target, o.base.key, o.base.sha256, dirs.base, false, o.owner, o.signal);
  const tar = findSystemTool('tar');
  if (!tar) throw new Error('tar is missing, so the base backup cannot be extracted');
  const res = await runOnce({
    argv: extractArgv(tar, dirs.base, o.pgdata),
    cwd: o.volume,
    env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' },
    timeoutMs: EXTRACT_TIMEOUT_MS,
    sandbox: o.sandbox,
    signal: o.signal,
    onLine: () => {},
  });
  if (res.code !== 0) {
    throw new Error(
      `extracting the base backup failed: ${res.lastLines.slice(-2).join(' ') || `exit ${res.code}`}`,
    );
  }
  fs.rmSync(dirs.base, { force: true });
  for (const f of [...o.histories, ...o.segments]) {
    const file = path.join(dirs.wal, f.name);
    await fetchChecked(o.target, f.key, f.sha256, file, true, o.owner, o.signal, f.segmentBytes);
  }
  const last = await lastTransactionIn(o.tools, dirs.wal, o.segments, o.signal);
  // Recovery to a time after the last transaction in the fetched WAL would end "before the target was
  // reached"; the state at `at` is then all of that WAL.
  const stopAt = last && last > o.at ? o.at : null;
  const autoConf = path.join(o.pgdata, 'postgresql.auto.conf');
  const current = readRegularFile(autoConf);
  writeOwned(path.join(o.pgdata, 'recovery.signal'), '', o.owner);
  writeOwned(
    autoConf,
    `${current}${current.endsWith('\n') || current === '' ? '' : '\n'}${recoverySettings({ walDir: dirs.wal, target: stopAt })}`,
    o.owner,
  );
  return { stopAt, walFiles: o.segments.length };
}

/** The newest commit or abort time in the fetched segments (read from the newest backwards). */
async function lastTransactionIn(
  tools: PgTools,
  walDir: string,
  segments: readonly WalFileRecord[],
  signal?: AbortSignal,
): Promise<Date | null> {
  for (const f of [...segments].reverse()) {
    const run = startTool(walCommitsArgv(tools, path.join(walDir, f.name)), {
      env: { ...pgToolEnv(null), TZ: 'UTC' },
      stdout: 'pipe',
      signal,
    });
    let out = '';
    run.stdout?.on('data', (c: Buffer) => {
      out += c.toString('utf8');
    });
    const outcome = await run.done;
    // pg_waldump ends with an error where the file's WAL ends; what it printed before is what counts.
    if (outcome.spawnError) throw new Error(outcome.spawnError);
    if (outcome.aborted) throw new Error('the restore was stopped while it read the WAL');
    const t = lastTransactionTime(out);
    if (t) return t;
  }
  return null;
}

/** Fetches key into file (gunzipped when asked), checking the stored bytes' SHA-256 against the record. */
async function fetchChecked(
  target: BackupTarget,
  key: string,
  sha256: string | null,
  file: string,
  gunzip: boolean,
  owner: VolumeOwner,
  signal?: AbortSignal,
  /** A tail's segment size: the fetched first part is padded with zeros to it, as PostgreSQL expects a segment. */
  padTo?: number,
): Promise<void> {
  const meter = new HashMeter();
  const tmp = `${file}.part`;
  const source = await target.get(key, { signal });
  const out = fs.createWriteStream(tmp, { mode: 0o600 });
  if (gunzip) await pipeline(source, meter, createGunzip(), out, { signal });
  else await pipeline(source, meter, out, { signal });
  if (sha256 && meter.digest() !== sha256) {
    fs.rmSync(tmp, { force: true });
    throw new Error(`${key} in the backup target is not what was stored (its SHA-256 differs)`);
  }
  if (padTo !== undefined) {
    if (fs.statSync(tmp).size > padTo) throw new Error(`${key} holds more than a WAL segment`);
    fs.truncateSync(tmp, padTo);
  }
  if (owner) fs.lchownSync(tmp, owner.uid, owner.gid);
  fs.renameSync(tmp, file);
}

/** A file in the restored data, never through a symlink (the data came from a user's database). */
function readRegularFile(file: string): string {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch {
    return '';
  }
  if (!st.isFile()) throw new Error(`${path.basename(file)} in the base backup is not a regular file`);
  return fs.readFileSync(file, 'utf8');
}
