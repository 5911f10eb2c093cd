/**
 * Point-in-time restore of the PostgreSQL services (src/backup's WAL shipping, base backups, window and
 * restore wired to DataServiceManager): every database's spool shipped continuously, base backups on a
 * schedule and when archiving starts, retention, the window, and `berth db restore --time` into a new service.
 */
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Cron } from 'croner';
import type { Logger } from 'pino';
import { runBaseBackup } from '../backup/base-backup.js';
import type { PgTools } from '../backup/pg-argv.js';
import { findPgTools } from '../backup/pg-tools.js';
import { prepareRecovery, restoreDirOf } from '../backup/pitr-restore.js';
import {
  planRestore,
  prunable,
  type RecoverySpan,
  type RestoreWindow,
  restoreRanges,
  restoreWindow,
} from '../backup/pitr-window.js';
import { assertBackupCron } from '../backup/scheduler.js';
import type { BackupTarget } from '../backup/target.js';
import type { BackupSubject } from '../core/backup-model.js';
import { errorMessage, UserError } from '../core/errors.js';
import type { Environment, Project, Service } from '../core/model.js';
import {
  type BaseBackupRecord,
  DEFAULT_TAIL_SECONDS,
  DEFAULT_WINDOW_DAYS,
  defaultBaseBackupCron,
  type PitrSettings,
} from '../core/pitr-model.js';
import type { JobGroups } from '../runtime/job-groups.js';
import type { DataService } from '../store/data-services.js';
import type { Store } from '../store/store.js';
import type { DataServiceManager } from './data-services.js';
import { generatePassword } from './password.js';
import { requirePostgres } from './postgres/binaries.js';
import { allowReplication, setPassword } from './postgres/branch.js';
import type { ClusterSeed } from './postgres/cluster.js';
import { pgdataOf } from './postgres/cluster.js';
import { resetRecoverySettings, waitPromoted } from './postgres/recovery.js';
import { keyOf, subjectOf, WalShipping } from './wal-shipping.js';

/** After a failed base backup, the next automatic one (when none is usable) waits this long. */
const RETRY_AFTER_FAILURE_MS = 10 * 60_000;
const PROMOTE_TIMEOUT_MS = 30 * 60_000;
/** Fetching and extracting what a restore needs may take this long before it is stopped (and NEW removed). */
const PREPARE_TIMEOUT_MS = 90 * 60_000;

export interface PitrDeps {
  store: Store;
  data: DataServiceManager;
  target: BackupTarget;
  workDir: string;
  jobs: JobGroups;
  logger: Logger;
  findTools?: () => PgTools;
  shipIntervalMs?: number;
}

/** What `berth db restore --list-window` shows of a database. */
export interface PitrStatus {
  window: RestoreWindow;
  /** The window's disjoint ranges (more than one when WAL is missing between them). */
  ranges: { earliest: string; latest: string }[];
  windowDays: number;
  tailSeconds: number;
  baseCron: string;
  nextBaseBackupAt: string | null;
  /** WAL files in the spool not shipped yet, and why the last pass stopped (null: it shipped them all). */
  waitingWalFiles: number;
  shippingError: string | null;
  lastShippedAt: string | null;
  lastBaseBackup: BaseBackupRecord | null;
  baseBackupRunning: boolean;
}

export interface PitrRestored {
  service: Service;
  dataService: DataService;
  /** The instant recovery stopped at; null when every WAL file up to it was replayed (no later transaction). */
  stoppedAt: string | null;
  seconds: number;
}

export class PointInTimeRecovery {
  private readonly crons = new Map<string, { cron: Cron; pattern: string; ds: DataService }>();
  private readonly running = new Map<
    string,
    { controller: AbortController; done: Promise<BaseBackupRecord> }
  >();
  /** Aborted at close: a restore still fetching stops (and its new service is removed). */
  private readonly closing = new AbortController();
  private closed = false;
  private readonly shipping: WalShipping;

  constructor(private readonly deps: PitrDeps) {
    this.shipping = new WalShipping({
      ...deps,
      intervalMs: deps.shipIntervalMs,
      nameOf: (ds) => this.nameOf(ds),
      tailSecondsOf: (subject) => this.settingsOf(subject).tailSeconds,
      shipped: (ds, gap) => this.firstBaseBackup(ds, gap),
    });
  }

  /** At daemon start: fails base backups a dead daemon left running, schedules every database, starts shipping. */
  async start(): Promise<void> {
    const { store, target, logger, jobs } = this.deps;
    const killed = jobs.killLeftovers();
    if (killed > 0) logger.warn(`stopped ${killed} pg_basebackup process(es) a previous server left running`);
    const left = store.walArchive.failRunningBases('The server stopped while this base backup ran.');
    for (const b of left) await target.delete(b.key).catch(() => {});
    if (left.length > 0)
      logger.warn(`${left.length} base backup(s) a previous server left running were marked failed`);
    this.sync();
    this.shipping.start();
  }

  /** Schedules exactly the PostgreSQL services that exist now; a deleted one's running base backup is cancelled. */
  sync(): void {
    if (this.closed) return;
    const wanted = new Map(
      this.deps.store.dataServices
        .list()
        .filter((ds) => ds.engine === 'postgres')
        .map((ds) => [keyOf(subjectOf(ds)), ds] as const),
    );
    for (const [key, entry] of this.crons) {
      if (wanted.has(key)) continue;
      entry.cron.stop();
      this.crons.delete(key);
      this.running.get(key)?.controller.abort();
    }
    for (const [key, ds] of wanted) {
      const pattern = this.settingsOf(subjectOf(ds)).baseCron;
      const had = this.crons.get(key);
      if (had?.pattern === pattern) {
        had.ds = ds;
        continue;
      }
      had?.cron.stop();
      const cron = new Cron(pattern, { utcOffset: 0 }, () => {
        const current = this.crons.get(key)?.ds;
        if (current) void this.baseBackup(current).catch(() => undefined);
      });
      this.crons.set(key, { cron, pattern, ds });
    }
  }

  settingsOf(subject: BackupSubject): PitrSettings {
    return (
      this.deps.store.walArchive.findSettings(subject) ?? {
        ...subject,
        baseCron: defaultBaseBackupCron(subject),
        windowDays: DEFAULT_WINDOW_DAYS,
        tailSeconds: DEFAULT_TAIL_SECONDS,
      }
    );
  }

  /** `berth db restore --window-days N --base-backups CRON`: stored and in force from now. */
  configure(
    ds: DataService,
    o: { windowDays?: number; baseCron?: string; tailSeconds?: number },
  ): PitrSettings {
    const current = this.settingsOf(subjectOf(ds));
    if (
      o.windowDays !== undefined &&
      (!Number.isInteger(o.windowDays) || o.windowDays < 1 || o.windowDays > 3650)
    ) {
      throw new UserError(
        `The restore window must be a whole number of days from 1 to 3650, not ${o.windowDays}.`,
      );
    }
    if (
      o.tailSeconds !== undefined &&
      (!Number.isInteger(o.tailSeconds) || o.tailSeconds < 0 || o.tailSeconds > 3600)
    ) {
      throw new UserError(
        `How often the WAL being written is shipped must be a whole number of seconds from 0 (finished WAL files only) to 3600, not ${o.tailSeconds}.`,
      );
    }
    if (o.baseCron !== undefined) assertBackupCron(o.baseCron);
    const next: PitrSettings = {
      ...current,
      ...(o.windowDays !== undefined ? { windowDays: o.windowDays } : {}),
      ...(o.baseCron !== undefined ? { baseCron: o.baseCron.trim().split(/\s+/).join(' ') } : {}),
      ...(o.tailSeconds !== undefined ? { tailSeconds: o.tailSeconds } : {}),
    };
    this.deps.store.walArchive.setSettings(next);
    this.sync();
    return next;
  }

  status(ds: DataService): PitrStatus {
    const subject = subjectOf(ds);
    const key = keyOf(subject);
    const settings = this.settingsOf(subject);
    const bases = this.deps.store.walArchive.listBases(subject);
    const shipped = this.shipping.state(subject);
    const next = this.crons.get(key)?.cron.nextRun() ?? null;
    // One read of the archive's rows (a week of WAL is thousands) serves both the window and its ranges.
    const spans = this.spans(subject);
    return {
      window: restoreWindow(spans),
      ranges: restoreRanges(spans),
      windowDays: settings.windowDays,
      tailSeconds: settings.tailSeconds,
      baseCron: settings.baseCron,
      nextBaseBackupAt: next ? next.toISOString() : null,
      waitingWalFiles: shipped?.waiting ?? 0,
      shippingError: shipped?.error ?? shipped?.gap ?? null,
      lastShippedAt: shipped?.lastShippedAt ?? null,
      lastBaseBackup: [...bases].reverse().find((b) => b.status !== 'running') ?? null,
      baseBackupRunning: this.running.has(key),
    };
  }

  /** `berth status`: the window, and why archiving or the last base backup failed (never silent). */
  summary(ds: DataService): { earliest: string | null; latest: string | null; problem: string | null } {
    const s = this.status(ds);
    const base =
      s.lastBaseBackup?.status === 'failed' ? `The last base backup failed: ${s.lastBaseBackup.error}` : null;
    return { ...s.window, problem: s.shippingError ?? base };
  }

  /** Takes a base backup now (refused while one runs); resolves with its record, verified or failed. */
  async baseBackup(ds: DataService): Promise<BaseBackupRecord> {
    const subject = subjectOf(ds);
    const key = keyOf(subject);
    if (this.closed) throw new UserError('The server is stopping.', { status: 503 });
    if (this.running.has(key)) {
      throw new UserError('A base backup of this database is running; wait for it.', {
        status: 409,
        code: 'backup_running',
      });
    }
    const controller = new AbortController();
    const done = this.runBase(ds, controller.signal).finally(() => this.running.delete(key));
    this.running.set(key, { controller, done });
    return await done;
  }

  private async runBase(ds: DataService, signal: AbortSignal): Promise<BaseBackupRecord> {
    const { store, data, target, logger } = this.deps;
    const subject = subjectOf(ds);
    const c = data.connection(ds);
    if (data.state(ds) === 'running') {
      // Clusters made before Berth's pg_hba.conf allowed replication connections get it (pg_basebackup needs one).
      await allowReplication(requirePostgres(), data.volumeOf(ds), c).catch(() => undefined);
    }
    const b = await runBaseBackup({
      store,
      target,
      tools: this.tools(),
      subject,
      connection: {
        host: c.host,
        port: c.port,
        user: c.username,
        password: c.password,
        database: c.database,
      },
      signal,
      workDir: this.deps.workDir,
      jobs: this.deps.jobs,
    });
    if (b.status === 'failed') logger.warn(`base backup of ${this.nameOf(ds)} failed: ${b.error}`);
    if (b.status === 'verified') this.shipping.clearGap(subject);
    await this.prune(subject).catch((err: unknown) =>
      logger.warn(`pruning the WAL archive of ${this.nameOf(ds)} failed: ${errorMessage(err)}`),
    );
    return b;
  }

  /** Base backups and WAL files older than the window needs leave the target, then the record. */
  async prune(subject: BackupSubject): Promise<{ bases: number; wal: number }> {
    const { store, target } = this.deps;
    const archive = store.walArchive;
    const gone = prunable(
      archive.listBases(subject),
      archive.listWal(subject),
      this.settingsOf(subject).windowDays,
      new Date(),
    );
    for (const b of gone.bases) {
      await target.delete(b.key);
      archive.deleteBase(b.id);
    }
    for (const f of gone.wal) {
      await target.delete(f.key);
      archive.deleteWal(subject, f.name);
    }
    return { bases: gone.bases.length, wal: gone.wal.length };
  }

  /**
   * "One when archiving starts": a database whose archive has no usable base backup gets one; so does one
   * whose archive has a gap (WAL dropped at the spool's cap), which only a new base backup bridges.
   */
  private firstBaseBackup(ds: DataService, gap: boolean): void {
    const subject = subjectOf(ds);
    if (this.running.has(keyOf(subject)) || this.deps.data.state(ds) !== 'running') return;
    const bases = this.deps.store.walArchive.listBases(subject);
    if (!gap && bases.some((b) => b.status === 'verified' || b.status === 'running')) return;
    const lastFailed = bases.filter((b) => b.status === 'failed').pop();
    if (lastFailed && Date.now() - Date.parse(lastFailed.createdAt) < RETRY_AFTER_FAILURE_MS) return;
    void this.baseBackup(ds).catch(() => undefined);
  }

  private spans(subject: BackupSubject) {
    return this.shipping.spans(subject);
  }

  window(ds: DataService): RestoreWindow {
    return restoreWindow(this.spans(subjectOf(ds)));
  }

  /**
   * `berth db restore --time T --name NEW`: NEW is a new database service in the same environment, recovered
   * from the archive to T and promoted; the source keeps running, untouched (nothing of it is even read but
   * its archive). NEW keeps the data's roles and passwords (they are in the data); with `ownPassword` (a
   * branch `--at`) it then gets a password of its own.
   */
  async restore(
    project: Project,
    environment: Environment,
    source: DataService,
    time: string,
    name: string,
    opts: { ownPassword?: boolean } = {},
  ): Promise<PitrRestored> {
    const { store } = this.deps;
    const at = parseInstant(time);
    if (store.services.find(project, name)) {
      throw new UserError(
        `Service "${name}" already exists in project "${project.name}"; restore into a new name with --name.`,
        {
          status: 409,
          code: 'conflict',
        },
      );
    }
    const subject = subjectOf(source);
    const release = this.shipping.holdArchive(subject);
    try {
      return await this.recoverInto(project, environment, source, { at, time }, name, opts);
    } finally {
      await release();
    }
  }

  private async recoverInto(
    project: Project,
    environment: Environment,
    source: DataService,
    { at, time }: { at: Date; time: string },
    name: string,
    opts: { ownPassword?: boolean },
  ): Promise<PitrRestored> {
    const { store, data, target } = this.deps;
    const subject = subjectOf(source);
    const spans = this.spans(subject);
    const plan = planRestore(spans, at);
    if (!plan) throw this.outsideWindow(source, { at, time }, spans);
    const stored = await target.stat(plan.base.key);
    if (!stored || stored.sizeBytes !== plan.base.sizeBytes) {
      throw new UserError(
        `The base backup ${plan.base.id} this restore needs is missing or changed in the backup target (${target.description}); nothing was created.`,
        { status: 409, code: 'backup_missing' },
      );
    }
    const histories = store.walArchive.listWal(subject).filter((f) => f.name.endsWith('.history'));
    const pg = requirePostgres();
    const tools = this.tools();
    const started = performance.now();
    let stoppedAt: Date | null = null;
    const password = generatePassword();
    const seed: ClusterSeed = {
      username: source.username,
      database: source.database,
      password: source.password,
      initialise: async ({ volume, owner, sandbox }) => {
        const r = await prepareRecovery({
          target,
          tools,
          base: plan.base,
          segments: plan.segments,
          histories,
          at,
          volume,
          pgdata: pgdataOf(volume),
          owner,
          sandbox,
          signal: AbortSignal.any([AbortSignal.timeout(PREPARE_TIMEOUT_MS), this.closing.signal]),
        });
        stoppedAt = r.stopAt;
      },
      started: async (ds, c) => {
        await waitPromoted(pg, c, PROMOTE_TIMEOUT_MS);
        await resetRecoverySettings(pg, c);
        fs.rmSync(restoreDirOf(data.volumeOf(ds)).dir, { recursive: true, force: true });
        if (opts.ownPassword) {
          await setPassword(pg, c, password);
          store.dataServices.setPassword(ds.id, password);
        }
        store.dataServices.setSettings(ds.id, source.settings);
      },
    };
    const made = await data.add(project, environment, name, 'postgres', seed);
    this.sync();
    const when = stoppedAt as Date | null;
    return {
      ...made,
      stoppedAt: when ? when.toISOString() : null,
      seconds: (performance.now() - started) / 1000,
    };
  }

  private outsideWindow(
    ds: DataService,
    { at, time }: { at: Date; time: string },
    spans: readonly RecoverySpan[],
  ): UserError {
    const name = this.nameOf(ds);
    const w = restoreWindow(spans);
    if (!w.earliest || !w.latest) {
      return new UserError(
        `${name} has no restorable instant yet: its archive has no finished base backup with its WAL (the first one is taken when archiving starts); \`berth db restore --list-window\` shows when it has.`,
        { status: 409, code: 'outside_window' },
      );
    }
    const ranges = restoreRanges(spans);
    const t = at.toISOString();
    if (ranges.length > 1 && w.earliest < t && t < w.latest) {
      const listed = ranges.map((r) => `${r.earliest} to ${r.latest}`).join(', ');
      return new UserError(
        `${time} falls where the WAL archive of ${name} has a gap (WAL was dropped while the backup target took none), so it cannot be restored to; pick an instant in one of its ranges: ${listed}.`,
        { status: 409, code: 'outside_window' },
      );
    }
    return new UserError(
      `${time} is outside the restore window of ${name}, which runs from ${w.earliest} to ${w.latest}; pick an instant in it (the archive follows the database within a second or two).`,
      { status: 409, code: 'outside_window' },
    );
  }

  private nameOf(ds: DataService): string {
    const s = this.deps.store.services.findById(ds.serviceId);
    const e = this.deps.store.environments.findById(ds.environmentId);
    return `${s?.name ?? ds.serviceId} (${e?.name ?? ds.environmentId})`;
  }

  private tools(): PgTools {
    return (this.deps.findTools ?? findPgTools)();
  }

  /** Stops shipping and schedules, cancels running base backups and waits for them to be recorded. */
  async close(): Promise<void> {
    this.closed = true;
    for (const e of this.crons.values()) e.cron.stop();
    this.crons.clear();
    const shipping = this.shipping.close();
    this.closing.abort();
    const runs = [...this.running.values()];
    for (const r of runs) r.controller.abort();
    await Promise.allSettled([...runs.map((r) => r.done), shipping]);
  }
}

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/;

/** An RFC 3339 instant with its zone, or one sentence saying how to write it. */
export function parseInstant(time: string): Date {
  const t = RFC3339.test(time.trim()) ? new Date(time.trim()) : null;
  if (!t || Number.isNaN(t.getTime())) {
    throw new UserError(
      `"${time}" is not an instant; write it in RFC 3339 with its zone, like 2026-11-22T10:15:03Z.`,
    );
  }
  return t;
}
