/**
 * The continuous half of point-in-time restore: a pass every second over every PostgreSQL service ships its
 * spool's finished WAL files and the tail of the segment being written (src/backup), and knows how far each
 * database's archive reaches.
 */
import type { Logger } from 'pino';
import { type RecoverySpan, recoverySpans, restoreWindow } from '../backup/pitr-window.js';
import type { BackupTarget } from '../backup/target.js';
import { sentence } from '../backup/text.js';
import { shipSpool } from '../backup/wal-archive.js';
import { shipTail, sweepTails } from '../backup/wal-tail.js';
import type { BackupSubject } from '../core/backup-model.js';
import { errorMessage } from '../core/errors.js';
import type { DataService } from '../store/data-services.js';
import type { Store } from '../store/store.js';
import type { DataServiceManager } from './data-services.js';
import { pgdataOf, walSpoolOf } from './postgres/cluster.js';

const SHIP_INTERVAL_MS = 1000;
/** What one database's spool may take of a pass before the next database's turn (the rest ships next pass). */
const SPOOL_BUDGET_MS = 2000;

export interface ShippingState {
  /** WAL files in the spool not shipped yet. */
  waiting: number;
  /** Why the last pass stopped (null: it shipped everything). */
  error: string | null;
  /** WAL dropped at the spool's cap: said until a base backup after it reopens the window. */
  gap: string | null;
  lastShippedAt: string | null;
}

export interface WalShippingDeps {
  store: Store;
  data: DataServiceManager;
  target: BackupTarget;
  logger: Logger;
  intervalMs?: number;
  nameOf(ds: DataService): string;
  /** How often a database's tail is shipped, in seconds (0: never; its recorded tail is dropped). */
  tailSecondsOf(subject: BackupSubject): number;
  /** After a pass shipped finished files of ds (PITR then takes the first base backup where none is usable). */
  shipped(ds: DataService, gap: boolean): void;
}

export const subjectOf = (ds: DataService): BackupSubject => ({
  serviceId: ds.serviceId,
  environmentId: ds.environmentId,
});
export const keyOf = (s: BackupSubject) => `${s.serviceId}:${s.environmentId}`;

export class WalShipping {
  private readonly states = new Map<string, ShippingState>();
  /** Per database, the last pass that found the archive holding all its WAL: the segment then current, and when. */
  private readonly caughtUp = new Map<string, { segment: string; at: string }>();
  /**
   * Per database, restores reading its archive now, and the replaced tails' objects kept for them (a restore
   * planned with a tail fetches it later); deleted when the last of those restores ends.
   */
  private readonly readers = new Map<string, { count: number; retired: string[] }>();
  /** Per database, when its tail was last looked at (a pass ships it once its tailSeconds have passed) and how that went. */
  private readonly tails = new Map<string, { at: number; error: string | null }>();
  private timer: NodeJS.Timeout | null = null;
  /** The start-up sweep, then the timer (awaited by close). */
  private starting: Promise<void> = Promise.resolve();
  private pass: Promise<void> | null = null;
  private readonly passAbort = new AbortController();
  private closed = false;

  constructor(private readonly deps: WalShippingDeps) {}

  /**
   * Sweeps tails a killed daemon left unrecorded (before any pass can store one), then passes every second. In the
   * background: a slow target's listings must not hold up the server's start.
   */
  start(): void {
    this.starting = this.sweepAll().then(() => {
      if (this.closed) return;
      this.timer = setInterval(() => void this.tick(), this.deps.intervalMs ?? SHIP_INTERVAL_MS);
      this.timer.unref();
    });
  }

  private async sweepAll(): Promise<void> {
    const { store, target, logger } = this.deps;
    for (const ds of store.dataServices.list()) {
      if (ds.engine !== 'postgres' || this.closed) continue;
      const removed = await sweepTails({ store, target, subject: subjectOf(ds) }).catch((err: unknown) => {
        logger.warn(`sweeping the WAL tails of ${this.deps.nameOf(ds)} failed: ${errorMessage(err)}`);
        return 0;
      });
      if (removed > 0) logger.info(`removed ${removed} unrecorded WAL tail(s) of ${this.deps.nameOf(ds)}`);
    }
  }

  state(subject: BackupSubject): ShippingState | null {
    return this.states.get(keyOf(subject)) ?? null;
  }

  /** A verified base backup after dropped WAL reopens the window from its end. */
  clearGap(subject: BackupSubject): void {
    const s = this.states.get(keyOf(subject));
    if (s?.gap) this.states.set(keyOf(subject), { ...s, gap: null });
  }

  /** The recovery spans of a database's archive, up to the tail and the last caught-up pass. */
  spans(subject: BackupSubject): RecoverySpan[] {
    const { walArchive } = this.deps.store;
    return recoverySpans(walArchive.listBases(subject), walArchive.listWal(subject), {
      tail: walArchive.findTail(subject),
      caughtUp: this.caughtUp.get(keyOf(subject)) ?? null,
    });
  }

  /** While a restore reads a database's archive, replaced tails stay in the target; call the result when it ends. */
  holdArchive(subject: BackupSubject): () => Promise<void> {
    const key = keyOf(subject);
    const reading = this.readers.get(key) ?? { count: 0, retired: [] };
    reading.count++;
    this.readers.set(key, reading);
    return async () => {
      if (--reading.count > 0) return;
      this.readers.delete(key);
      for (const k of reading.retired) await this.deps.target.delete(k).catch(() => undefined);
    };
  }

  /** Stops the passes; resolves once a running one has stopped. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.passAbort.abort();
    await this.starting.catch(() => undefined);
    if (this.timer) clearInterval(this.timer);
    await this.pass?.catch(() => undefined);
  }

  /** One pass over every database (never two at once). */
  private async tick(): Promise<void> {
    if (this.pass || this.closed) return;
    this.pass = this.shipAll().finally(() => {
      this.pass = null;
    });
    await this.pass;
  }

  private async shipAll(): Promise<void> {
    const { store, data, target, logger } = this.deps;
    for (const ds of store.dataServices.list()) {
      if (ds.engine !== 'postgres' || this.closed) continue;
      const subject = subjectOf(ds);
      const key = keyOf(subject);
      const before = this.states.get(key);
      const r = await shipSpool({
        store,
        target,
        subject,
        spool: walSpoolOf(data.volumeOf(ds)),
        signal: this.passAbort.signal,
        budgetMs: SPOOL_BUDGET_MS,
      }).catch((err: unknown) => ({
        shipped: 0,
        waiting: before?.waiting ?? 0,
        error: sentence(errorMessage(err)),
        dropped: 0,
      }));
      const error = r.error ?? (await this.tailPass(ds));
      const name = this.deps.nameOf(ds);
      if (error && error !== before?.error) logger.warn(`WAL archive of ${name}: ${error}`);
      const gap =
        r.dropped > 0
          ? `The spool passed its cap while the backup target took no WAL, so ${r.dropped} WAL file(s) were dropped: restores cannot reach past ${restoreWindow(this.spans(subject)).latest ?? 'the gap'} until the next base backup.`
          : (before?.gap ?? null);
      if (r.dropped > 0) logger.warn(`WAL archive of ${name}: ${gap}`);
      this.states.set(key, {
        waiting: r.waiting,
        error,
        gap,
        lastShippedAt: r.shipped > 0 ? new Date().toISOString() : (before?.lastShippedAt ?? null),
      });
      if (r.shipped > 0) this.deps.shipped(ds, gap !== null);
    }
  }

  /** The tail's turn in a pass: shipped when its interval has passed, dropped when the database ships none. */
  private async tailPass(ds: DataService): Promise<string | null> {
    const subject = subjectOf(ds);
    const key = keyOf(subject);
    const every = this.deps.tailSecondsOf(subject) * 1000;
    if (every === 0) {
      this.caughtUp.delete(key);
      const had = this.deps.store.walArchive.findTail(subject);
      if (had) {
        this.deps.store.walArchive.deleteTail(subject);
        await this.retire(subject, had.key).catch(() => undefined);
      }
      return null;
    }
    // Half a pass of slack: passes a little under a second apart must not ship a 1 s tail every other pass.
    const interval = this.deps.intervalMs ?? SHIP_INTERVAL_MS;
    const last = this.tails.get(key);
    if (last && Date.now() - last.at < every - interval / 2) return last.error;
    const at = Date.now();
    const error = await this.shipTail(ds);
    this.tails.set(key, { at, error });
    return error;
  }

  /** A replaced tail's object: deleted, or kept while a restore reads the archive (see `readers`). */
  private async retire(subject: BackupSubject, key: string): Promise<void> {
    const reading = this.readers.get(keyOf(subject));
    if (reading) reading.retired.push(key);
    else await this.deps.target.delete(key);
  }

  /**
   * Ships the written part of the segment PostgreSQL is filling (backup/wal-tail.ts), so the window reaches
   * within a pass of now; the error sentence when it could not.
   */
  private async shipTail(ds: DataService): Promise<string | null> {
    const { store, data, target } = this.deps;
    const subject = subjectOf(ds);
    try {
      const pass = await shipTail({
        store,
        target,
        subject,
        pgdata: pgdataOf(data.volumeOf(ds)),
        signal: this.passAbort.signal,
        retire: (key) => this.retire(subject, key),
      });
      if (pass.current) this.caughtUp.set(keyOf(subject), { segment: pass.current.name, at: pass.looked });
      return null;
    } catch (err) {
      return `Shipping the WAL being written to the backup target failed: ${sentence(errorMessage(err))}`;
    }
  }
}
