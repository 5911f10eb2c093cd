/**
 * A PostgreSQL cluster in a data service's volume: created once with initdb (as the service's own user, in
 * its sandbox), its pg_hba.conf written by Berth, and its application database made after the first start.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { runOnce } from '../../runtime/run-once.js';
import type { Sandbox } from '../../runtime/sandbox.js';
import { findSystemTool } from '../../runtime/sandbox.js';
import type { DataService } from '../../store/data-services.js';
import { ownedDir, type VolumeOwner, writeOwned } from '../volume.js';
import { initdbArgv, PG_HBA, type PsqlTarget, syncArgv, withConfDefaults } from './argv.js';
import type { PostgresBinaries } from './binaries.js';
import { runPsql } from './psql.js';

const INITDB_TIMEOUT_MS = 120_000;

/** The cluster's directory inside the volume (the volume may later hold WAL archives, sockets, …). */
export function pgdataOf(volume: string): string {
  return path.join(volume, 'pgdata');
}

/** Where basic_archive puts finished WAL files until the daemon has shipped them (point-in-time restore). */
export function walSpoolOf(volume: string): string {
  return path.join(volume, 'wal-spool');
}

/**
 * Before every start: the spool exists, owned by the engine's user (0700: no other tenant reads its WAL), and
 * postgresql.conf has Berth's defaults for archiving (added once; ALTER SYSTEM outranks them).
 */
export function prepareArchiving(volume: string, owner: VolumeOwner): void {
  ownedDir(walSpoolOf(volume), owner);
  const conf = path.join(pgdataOf(volume), 'postgresql.conf');
  let text: string;
  try {
    if (!fs.lstatSync(conf).isFile()) return;
    text = fs.readFileSync(conf, 'utf8');
  } catch {
    return;
  }
  const next = withConfDefaults(text);
  if (next !== null) writeOwned(conf, next, owner);
}

export { ownedDir, type VolumeOwner, writeOwned } from '../volume.js';

/**
 * A cluster made some other way than initdb (a branch: a physical copy of another service's), with that
 * cluster's role and database; `initialise` fills the new volume before the first start.
 */
export interface ClusterSeed {
  username: string;
  database: string;
  password: string;
  initialise(o: { ds: DataService; volume: string; owner: VolumeOwner; sandbox?: Sandbox }): Promise<void>;
  /** After the first start (still part of provisioning: a failure removes the new service). */
  started?(ds: DataService, c: PsqlTarget & { password: string }): Promise<void>;
}

export function isInitialised(volume: string): boolean {
  return fs.existsSync(path.join(pgdataOf(volume), 'PG_VERSION'));
}

/**
 * initdb into <volume>/pgdata unless a cluster is already there (a volume is never re-initialised: its data
 * is the service's). The superuser's password goes through a file only the owner reads, removed afterwards.
 */
export async function initCluster(o: {
  pg: PostgresBinaries;
  volume: string;
  owner: VolumeOwner;
  sandbox?: Sandbox;
  username: string;
  password: string;
}): Promise<void> {
  ownedDir(o.volume, o.owner);
  if (isInitialised(o.volume)) return;
  const pgdata = pgdataOf(o.volume);
  // A half-made cluster from an initdb that died is not data: start over.
  fs.rmSync(pgdata, { recursive: true, force: true });
  const passwordFile = path.join(o.volume, '.initdb-password');
  writeOwned(passwordFile, `${o.password}\n`, o.owner);
  try {
    const res = await runOnce({
      argv: initdbArgv(o.pg, { dataDir: pgdata, username: o.username, passwordFile }),
      cwd: o.volume,
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' },
      timeoutMs: INITDB_TIMEOUT_MS,
      sandbox: o.sandbox,
      onLine: () => {},
    });
    if (res.code !== 0) {
      const why = res.timedOut
        ? `it took longer than ${INITDB_TIMEOUT_MS / 1000}s`
        : res.lastLines.slice(-3).join(' ');
      throw new Error(`initdb failed: ${why}`);
    }
  } finally {
    fs.rmSync(passwordFile, { force: true });
  }
  writeOwned(path.join(pgdata, 'pg_hba.conf'), PG_HBA, o.owner);
  await syncFileSystem(pgdata);
}

/** Flushes the file system holding dir, so a crash right after provisioning cannot leave a torn cluster. */
export async function syncFileSystem(dir: string): Promise<void> {
  const sync = findSystemTool('sync');
  if (!sync) throw new Error('coreutils sync is missing, so the new cluster cannot be flushed to disk');
  const argv = syncArgv(sync, dir);
  await new Promise<void>((resolve, reject) => {
    execFile(argv[0], argv.slice(1), { timeout: 120_000 }, (err) =>
      err ? reject(new Error(`syncing the new cluster to disk failed: ${err.message}`)) : resolve(),
    );
  });
}

/** Creates the application database (Railway's `railway`) when it does not exist yet. */
export async function ensureDatabase(
  pg: PostgresBinaries,
  target: PsqlTarget & { password: string },
  database: string,
): Promise<void> {
  await runPsql(
    pg,
    { ...target, database: 'postgres' },
    "SELECT format('CREATE DATABASE %I', :'db') WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db')\\gexec\n",
    { db: database },
  );
}
