/**
 * Point-in-time recovery's pure parts: WAL file names and their keys in the backup target, the argv of
 * pg_basebackup and pg_waldump, what is read from their output, and the recovery settings of a restore.
 */
import path from 'node:path';
import type { BackupSubject } from '../core/backup-model.js';
import { UserError } from '../core/errors.js';
import type { PgTools } from './pg-argv.js';

const SEGMENT = /^[0-9A-F]{24}$/;
/** What PostgreSQL's archiver hands over: segments, a promotion's last partial segment, timeline and backup histories. */
const ARCHIVED = /^([0-9A-F]{24}(\.partial|\.[0-9A-F]{8}\.backup)?|[0-9A-F]{8}\.history)$/;

export function isArchivedWalName(name: string): boolean {
  return ARCHIVED.test(name);
}

export function isSegment(name: string): boolean {
  return SEGMENT.test(name);
}

/** A segment's place in WAL whatever its timeline (16 hex digits, comparable as strings). */
export function positionOf(segment: string): string {
  return segment.slice(8, 24);
}

/** The next segment's position (16 MB segments: 256 per 4 GB "log id"). */
export function nextPosition(position: string): string {
  const log = Number.parseInt(position.slice(0, 8), 16);
  const seg = Number.parseInt(position.slice(8, 16), 16);
  const [l, s] = seg >= 0xff ? [log + 1, 0] : [log, seg + 1];
  return `${hex8(l)}${hex8(s)}`;
}

function hex8(n: number): string {
  return n.toString(16).toUpperCase().padStart(8, '0');
}

/** `wal/<service>/<environment>/<name>.gz`: every WAL file of a database under one prefix, in WAL order. */
export function walKey(subject: BackupSubject, name: string): string {
  return `${walPrefix(subject)}${name}.gz`;
}

export function walPrefix(subject: BackupSubject): string {
  return `wal/${subject.serviceId}/${subject.environmentId}/`;
}

/** `base/<service>/<environment>/<UTC time>-<id>.tar.gz`. */
export function baseBackupKey(subject: BackupSubject, id: string, createdAt: string): string {
  const stamp = createdAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `base/${subject.serviceId}/${subject.environmentId}/${stamp}-${id}.tar.gz`;
}

/**
 * A base backup as one tar on stdout: a fast checkpoint (PostgreSQL 15 waits for a spread one otherwise), no
 * WAL in it (the archive has it: the server waits until the WAL the backup needs is archived before it
 * ends), no manifest (the tar's SHA-256 is checked instead). The password comes from the passfile.
 */
export function baseBackupArgv(
  tools: PgTools,
  c: { host: string; port: number; user: string },
  label: string,
): string[] {
  return [
    path.join(tools.binDir, 'pg_basebackup'),
    '--pgdata=-',
    '--format=tar',
    '--wal-method=none',
    '--checkpoint=fast',
    '--no-manifest',
    '--no-password',
    `--host=${c.host}`,
    `--port=${c.port}`,
    `--username=${c.user}`,
    `--label=${label}`,
  ];
}

/** The commit and abort records of one WAL file (what recovery_target_time stops at). */
export function walCommitsArgv(tools: PgTools, file: string): string[] {
  return [path.join(tools.binDir, 'pg_waldump'), '--rmgr=Transaction', file];
}

/** backup_label's first line: `START WAL LOCATION: 0/2000028 (file 000000010000000000000002)`. */
export function startWalOf(backupLabel: string): string | null {
  return /^START WAL LOCATION: \S+ \(file ([0-9A-F]{24})\)$/m.exec(backupLabel)?.[1] ?? null;
}

/** The last commit or abort time pg_waldump printed (it runs with TZ=UTC), or null when there is none. */
export function lastTransactionTime(waldump: string): Date | null {
  let last: Date | null = null;
  for (const m of waldump.matchAll(
    /desc: (?:COMMIT|ABORT) (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?) UTC/g,
  )) {
    const t = new Date(`${m[1]}T${m[2].slice(0, 12)}Z`);
    if (!Number.isNaN(t.getTime()) && (!last || t > last)) last = t;
  }
  return last;
}

/** Paths Berth writes into PostgreSQL's configuration: its own, checked so no quoting is ever needed. */
const SAFE_PATH = /^\/[A-Za-z0-9/._-]+$/;

export function assertSafePath(p: string): void {
  if (!SAFE_PATH.test(p)) {
    throw new UserError(
      `The data directory path ${JSON.stringify(p)} has characters point-in-time recovery cannot put in PostgreSQL's configuration; use a data dir of letters, digits, '/', '.', '_' and '-'.`,
      { status: 500, code: 'unsafe_path' },
    );
  }
}

/**
 * What a restored cluster starts with (appended to its postgresql.auto.conf; removed after promotion):
 * WAL from a directory Berth filled (`cp` of our own path, never anything a user typed), stop at the
 * target (the first transaction that ended after it is not applied) or replay all of it (target null),
 * then promote to a new timeline.
 */
export function recoverySettings(o: { walDir: string; target: Date | null }): string {
  assertSafePath(o.walDir);
  const lines = [
    '# Point-in-time restore by Berth (removed once the database is promoted)',
    `restore_command = 'cp "${o.walDir}/%f" "%p"'`,
    "recovery_target_action = 'promote'",
    "recovery_target_timeline = 'latest'",
  ];
  if (o.target) lines.push(`recovery_target_time = '${pgTime(o.target)}'`);
  return `${lines.join('\n')}\n`;
}

export const RECOVERY_SETTINGS = [
  'restore_command',
  'recovery_target_action',
  'recovery_target_timeline',
  'recovery_target_time',
];

/** `2026-11-22 10:15:03.000+00`: what PostgreSQL reads as a timestamptz. */
export function pgTime(t: Date): string {
  return `${t.toISOString().replace('T', ' ').replace('Z', '')}+00`;
}

/** The label Berth gives a base backup, found again in the backup history file the archive receives. */
export function baseBackupLabel(id: string): string {
  return `berth base ${id}`;
}

/** A backup history file (`….backup`): which of Berth's base backups it ends, and the WAL file it ends in. */
export function parseBackupHistory(text: string): { baseId: string; endWal: string } | null {
  const id = /^LABEL: berth base ([0-9a-f-]{36})$/m.exec(text)?.[1];
  const end = /^STOP WAL LOCATION: \S+ \(file ([0-9A-F]{24})\)$/m.exec(text)?.[1];
  return id && end ? { baseId: id, endWal: end } : null;
}
