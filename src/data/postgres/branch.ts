/**
 * `berth db branch`: a writable copy of a running database as a new data service — a physical copy
 * (pg_basebackup, fast checkpoint, WAL streamed alongside) of the source into the new volume, then new
 * credentials for the copy. The source keeps running and is never written to.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../lib/atomic-write.js';
import { runOnce } from '../../runtime/run-once.js';
import type { Sandbox } from '../../runtime/sandbox.js';
import type { DataService } from '../../store/data-services.js';
import { PG_HBA, type PsqlTarget } from './argv.js';
import type { PostgresBinaries } from './binaries.js';
import { pgdataOf, syncFileSystem, type VolumeOwner } from './cluster.js';
import { runPsql } from './psql.js';

const COPY_TIMEOUT_MS = 30 * 60_000;
const SCRAM_ITERATIONS = 4096;

/** pg_basebackup next to the server of the same major version. */
export function pgBasebackupOf(pg: Pick<PostgresBinaries, 'bin'>): string {
  return path.join(pg.bin, 'pg_basebackup');
}

/**
 * A physical copy of the cluster at host:port into dataDir: a fast checkpoint (PostgreSQL 15 waits for a
 * spread one otherwise), the WAL written meanwhile streamed in a second connection so the copy is consistent
 * on its own, no fsync per file (one syncfs afterwards), no manifest (nobody verifies a branch against one).
 * The password comes in PGPASSWORD; --no-password fails rather than prompting.
 */
export function pgBasebackupArgv(
  bin: string,
  o: { host: string; port: number; username: string; dataDir: string },
): string[] {
  return [
    bin,
    '--pgdata',
    o.dataDir,
    '--host',
    o.host,
    '--port',
    String(o.port),
    '--username',
    o.username,
    '--no-password',
    '--checkpoint=fast',
    '--wal-method=stream',
    '--no-sync',
    '--no-manifest',
    '--label=berth branch',
  ];
}

/**
 * The SCRAM-SHA-256 secret PostgreSQL stores for password (RFC 5802/7677, as libpq's PQencryptPasswordConn
 * makes it): set with ALTER ROLE … PASSWORD '<secret>', the password itself never reaches the server or its logs.
 * Berth's passwords are ASCII letters and digits, which SASLprep leaves as they are.
 */
export function scramSecret(password: string, salt = randomBytes(16), iterations = SCRAM_ITERATIONS): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/**
 * pg_basebackup needs a replication connection, which pg_hba's `all` does not match: clusters made before
 * Berth's pg_hba.conf had those lines get it (same owner), and a reload.
 */
export async function allowReplication(
  pg: PostgresBinaries,
  volume: string,
  superuser: PsqlTarget & { password: string },
): Promise<void> {
  const hba = path.join(pgdataOf(volume), 'pg_hba.conf');
  const current = fs.readFileSync(hba, 'utf8');
  if (/^host\s+replication\s+all\s+0\.0\.0\.0\/0\s+scram-sha-256/m.test(current)) return;
  const st = fs.statSync(hba);
  writeFileAtomic(hba, PG_HBA, { owner: { uid: st.uid, gid: st.gid } });
  await runPsql(pg, { ...superuser, database: 'postgres' }, 'SELECT pg_reload_conf();\n');
}

/** Copies the running source cluster into <volume>/pgdata, run as the new service's user in its sandbox. */
export async function copyCluster(o: {
  pg: PostgresBinaries;
  source: PsqlTarget & { password: string };
  volume: string;
  owner: VolumeOwner;
  sandbox?: Sandbox;
}): Promise<void> {
  const bin = pgBasebackupOf(o.pg);
  const dataDir = pgdataOf(o.volume);
  fs.rmSync(dataDir, { recursive: true, force: true });
  const res = await runOnce({
    argv: pgBasebackupArgv(bin, { ...o.source, dataDir }),
    cwd: o.volume,
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', PGPASSWORD: o.source.password },
    timeoutMs: COPY_TIMEOUT_MS,
    sandbox: o.sandbox,
    onLine: () => {},
  });
  if (res.code !== 0) {
    const why = res.timedOut
      ? `it took longer than ${COPY_TIMEOUT_MS / 60_000} minutes`
      : res.lastLines.slice(-3).join(' ');
    throw new Error(`copying the database failed: ${why}`);
  }
  await syncFileSystem(dataDir);
}

/** The branch's own password: set as a SCRAM secret on the copy (which still had the source's). */
export async function setPassword(
  pg: PostgresBinaries,
  c: PsqlTarget & { password: string },
  newPassword: string,
): Promise<void> {
  await runPsql(pg, { ...c, database: 'postgres' }, 'ALTER ROLE :"role" PASSWORD :\'secret\';\n', {
    role: c.username,
    secret: scramSecret(newPassword),
  });
}

/** What a branch records of its source. */
export function branchSeedOf(source: DataService): { username: string; database: string; password: string } {
  return { username: source.username, database: source.database, password: source.password };
}
