/**
 * Scheduled logical backups: one cron per database (UTC; default every 6 hours), one run at a time per
 * database, retention after each run, and the last outcome kept in the manifest for `berth status`.
 */
import { Cron } from 'croner';
import {
  type BackupRecord,
  type BackupSchedule,
  type BackupSubject,
  DEFAULT_BACKUP_CRON,
  DEFAULT_KEEP_DAYS,
} from '../core/backup-model.js';
import { errorMessage, UserError } from '../core/errors.js';
import type { JobGroups } from '../runtime/job-groups.js';
import type { Store } from '../store/store.js';
import type { BackupMethod } from './method.js';
import type { PgConnection, PgTools } from './pg-argv.js';
import { pgDumpMethod } from './pg-method.js';
import { assertKeepDays, type PruneResult, pruneBackups } from './retention.js';
import type { BackupTarget } from './target.js';
import { sentence } from './text.js';

/** A database to back up. */
export interface BackupDatabase<C = PgConnection> {
  subject: BackupSubject;
  /** Asked at each run (a password may have been rotated); null when the database cannot be reached now. */
  connection: () => C | null;
  /** How its archives are made; default: pg_dump with the scheduler's `tools`. */
  method?: BackupMethod<C>;
}

/** Any engine's database, as the scheduler keeps it (its connection only ever goes to its own method). */
type AnyBackupDatabase = BackupDatabase<unknown>;

export type BackupEvent =
  | { kind: 'finished'; subject: BackupSubject; backup: BackupRecord; prune: PruneResult | { error: string } }
  | { kind: 'skipped'; subject: BackupSubject; reason: string };

export interface BackupSchedulerDeps {
  store: Store;
  target: BackupTarget;
  /** PostgreSQL's client tools, for databases without a method of their own (pg_dump). */
  tools?: PgTools;
  timeoutMs?: number;
  /**
   * Backups of different databases running at once (default 1): pg_dump's compression takes a core, and
   * every database's default schedule fires at the same minute. Others wait their turn (shown as running).
   */
  maxConcurrent?: number;
  workDir?: string;
  jobs?: JobGroups;
  /** Every finished run and every skipped tick; the observability issue routes failures to alerts. */
  onEvent?: (event: BackupEvent) => void;
}

/** What `berth status` shows of a database's backups. */
export interface BackupStatusSummary {
  schedule: BackupSchedule;
  nextRunAt: string | null;
  running: boolean;
  /** The newest finished backup: its outcome, and the reason when it failed. */
  last: BackupRecord | null;
}

/** Five cron fields, evaluated in UTC; one sentence when croner cannot read it. */
export function assertBackupCron(cron: string): void {
  const fields = cron.trim().split(/\s+/);
  let why: string | null = fields.length === 5 ? null : `it has ${fields.length} fields, not 5`;
  if (!why) {
    try {
      new Cron(cron, { paused: true, utcOffset: 0 }).stop();
    } catch (err) {
      why = errorMessage(err).replace(/\.$/, '');
    }
  }
  if (why) {
    throw new UserError(
      `"${cron}" is not a backup schedule (${why}); use five cron fields in UTC, like "${DEFAULT_BACKUP_CRON}".`,
    );
  }
}

const keyOf = (s: BackupSubject) => `${s.serviceId}:${s.environmentId}`;

export class BackupScheduler {
  private readonly databases = new Map<string, { db: AnyBackupDatabase; cron: Cron; pattern: string }>();
  private readonly running = new Map<string, { controller: AbortController; done: Promise<BackupRecord> }>();
  private closed = false;
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly deps: BackupSchedulerDeps) {}

  /** The schedule stored for a database, or the default one (every 6 hours, 30 days kept). */
  scheduleOf(subject: BackupSubject): BackupSchedule {
    return (
      this.deps.store.backups.findSchedule(subject) ?? {
        ...subject,
        cron: DEFAULT_BACKUP_CRON,
        keepDays: DEFAULT_KEEP_DAYS,
      }
    );
  }

  /** Schedules exactly these databases (the ones that exist now); safe to call any time. */
  sync(databases: readonly AnyBackupDatabase[]): void {
    if (this.closed) return;
    const wanted = new Map(databases.map((d) => [keyOf(d.subject), d]));
    for (const [key, entry] of this.databases) {
      if (!wanted.has(key)) {
        entry.cron.stop();
        this.databases.delete(key);
      }
    }
    for (const [key, db] of wanted) this.schedule(key, db);
  }

  /** (Re)starts a database's cron when it is new or its pattern changed. */
  private schedule(key: string, db: AnyBackupDatabase): void {
    const pattern = this.scheduleOf(db.subject).cron;
    const entry = this.databases.get(key);
    if (entry?.pattern === pattern) {
      entry.db = db;
      return;
    }
    entry?.cron.stop();
    // utcOffset rather than timezone 'UTC', which loads ICU's time zone data (see deploy/cron.ts).
    const cron = new Cron(pattern, { utcOffset: 0 }, () => void this.tick(key));
    this.databases.set(key, { db, cron, pattern });
  }

  /** `berth backup schedule "CRON" --keep-days N`: validated, stored, and in force from now. */
  setSchedule(subject: BackupSubject, cron: string, keepDays: number): BackupSchedule {
    assertBackupCron(cron);
    assertKeepDays(keepDays);
    const schedule = { ...subject, cron: cron.trim().split(/\s+/).join(' '), keepDays };
    this.deps.store.backups.setSchedule(schedule);
    const entry = this.databases.get(keyOf(subject));
    if (entry && !this.closed) this.schedule(keyOf(subject), entry.db);
    return schedule;
  }

  /** `berth backup create`: runs a backup now and resolves with its record; refused while one runs. */
  create(subject: BackupSubject): Promise<BackupRecord> {
    const entry = this.databases.get(keyOf(subject));
    if (!entry) {
      throw new UserError(
        'That database is not scheduled for backups; is it a database service that exists?',
        {
          status: 404,
          code: 'not_found',
        },
      );
    }
    if (this.running.has(keyOf(subject))) {
      throw new UserError(
        'A backup of this database is running; wait for it, then list it with `berth backup list`.',
        {
          status: 409,
          code: 'backup_running',
        },
      );
    }
    return this.run(entry.db);
  }

  /** Cancels the database's running backup; false when none runs. */
  cancel(subject: BackupSubject): boolean {
    const r = this.running.get(keyOf(subject));
    r?.controller.abort();
    return r !== undefined;
  }

  isRunning(subject: BackupSubject): boolean {
    return this.running.has(keyOf(subject));
  }

  status(subject: BackupSubject): BackupStatusSummary {
    const next = this.databases.get(keyOf(subject))?.cron.nextRun() ?? null;
    return {
      schedule: this.scheduleOf(subject),
      nextRunAt: next ? next.toISOString() : null,
      running: this.isRunning(subject),
      last: this.deps.store.backups.findLatestFinished(subject),
    };
  }

  private async tick(key: string): Promise<void> {
    const entry = this.databases.get(key);
    if (!entry || this.closed) return;
    if (this.running.has(key)) {
      this.emit({
        kind: 'skipped',
        subject: entry.db.subject,
        reason: 'The scheduled backup was skipped: the previous one is still running.',
      });
      return;
    }
    await this.run(entry.db).catch((err: unknown) =>
      this.emit({
        kind: 'skipped',
        subject: entry.db.subject,
        reason: `The scheduled backup could not run: ${sentence(errorMessage(err))}`,
      }),
    );
  }

  private run(db: AnyBackupDatabase): Promise<BackupRecord> {
    const key = keyOf(db.subject);
    const controller = new AbortController();
    const done = this.backUp(db, controller.signal).finally(() => this.running.delete(key));
    this.running.set(key, { controller, done });
    return done;
  }

  private async backUp(db: AnyBackupDatabase, signal: AbortSignal): Promise<BackupRecord> {
    if (!(await this.turn(signal))) {
      return this.failWithoutRun(db, 'The backup was cancelled before it started.');
    }
    try {
      return await this.backUpNow(db, signal);
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }

  /** Waits for a free slot; false when cancelled while waiting. */
  private async turn(signal: AbortSignal): Promise<boolean> {
    const max = Math.max(1, this.deps.maxConcurrent ?? 1);
    while (this.active >= max) {
      if (signal.aborted) return false;
      await new Promise<void>((resolve) => {
        const wake = () => {
          signal.removeEventListener('abort', wake);
          const i = this.waiting.indexOf(wake);
          if (i >= 0) this.waiting.splice(i, 1);
          resolve();
        };
        this.waiting.push(wake);
        signal.addEventListener('abort', wake, { once: true });
      });
    }
    if (signal.aborted) return false;
    this.active++;
    return true;
  }

  private methodOf(db: AnyBackupDatabase): BackupMethod<unknown> {
    if (db.method) return db.method;
    const { tools } = this.deps;
    if (!tools) throw new Error('BackupScheduler: a database without a method needs the scheduler’s tools');
    return pgDumpMethod(() => tools);
  }

  private failWithoutRun(db: AnyBackupDatabase, reason: string): BackupRecord {
    const { backups } = this.deps.store;
    const method = this.methodOf(db);
    const { subject } = db;
    return backups.markFailed(
      backups.begin(subject, method.kind, (id, at) => method.archiveKey(subject, id, at)).id,
      reason,
    );
  }

  private async backUpNow(db: AnyBackupDatabase, signal: AbortSignal): Promise<BackupRecord> {
    const { store, target } = this.deps;
    let connection: unknown = null;
    let unreachable: string | null = null;
    try {
      connection = db.connection();
      if (!connection) unreachable = 'The database was not running, so no backup was taken.';
    } catch (err) {
      unreachable = `The database's connection could not be read: ${sentence(errorMessage(err))}`;
    }
    const backup = connection
      ? await this.methodOf(db).run({
          store,
          target,
          subject: db.subject,
          connection,
          signal,
          timeoutMs: this.deps.timeoutMs,
          workDir: this.deps.workDir,
          jobs: this.deps.jobs,
        })
      : this.failWithoutRun(db, unreachable ?? 'No connection.');
    const prune = await pruneBackups({
      store,
      target,
      subject: db.subject,
      keepDays: this.scheduleOf(db.subject).keepDays,
    }).catch((err: unknown) => ({ error: sentence(errorMessage(err)) }));
    this.emit({ kind: 'finished', subject: db.subject, backup, prune });
    return backup;
  }

  private emit(event: BackupEvent): void {
    try {
      this.deps.onEvent?.(event);
    } catch {
      // A failing listener must not stop backups.
    }
  }

  /** Stops every schedule, cancels running backups and waits for them to be recorded. */
  async close(): Promise<void> {
    this.closed = true;
    for (const e of this.databases.values()) e.cron.stop();
    this.databases.clear();
    const runs = [...this.running.values()];
    for (const r of runs) r.controller.abort();
    await Promise.allSettled(runs.map((r) => r.done));
  }
}
