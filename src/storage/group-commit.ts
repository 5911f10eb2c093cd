/**
 * Group commit for SQLite in WAL mode with synchronous=NORMAL: writes queue and commit together on the next turn
 * of the event loop, each in its own savepoint (one that throws fails alone); they resolve only after an
 * fdatasync of the WAL in the thread pool — one sync for every batch that committed meanwhile.
 */
import fsp from 'node:fs/promises';
import type Database from 'better-sqlite3';

interface QueuedWrite {
  fn: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class GroupCommit {
  private queue: QueuedWrite[] = [];
  private scheduled = false;
  private wal: fsp.FileHandle | null = null;
  private syncing = false;
  /** Batches committed but not yet durable: they resolve after the next WAL sync. */
  private awaitingSync: Array<(err: Error | null) => void> = [];

  constructor(
    private readonly db: Database.Database,
    private readonly walFile: string,
  ) {}

  close(): void {
    void this.wal?.close().catch(() => {});
  }

  write<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    const results: Array<{ ok: boolean; value: unknown }> = [];
    try {
      this.db.transaction(() => {
        for (const w of batch) {
          try {
            results.push({ ok: true, value: this.db.transaction(w.fn)() });
          } catch (err) {
            results.push({ ok: false, value: err });
          }
        }
      })();
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    this.afterSync((syncError) => {
      for (const [i, w] of batch.entries()) {
        if (syncError) w.reject(syncError);
        else if (results[i].ok) w.resolve(results[i].value);
        else w.reject(results[i].value);
      }
    });
  }

  private afterSync(done: (err: Error | null) => void): void {
    this.awaitingSync.push(done);
    if (!this.syncing) this.syncWal();
  }

  private syncWal(): void {
    const batch = this.awaitingSync;
    this.awaitingSync = [];
    this.syncing = true;
    (async () => {
      // The WAL file lives as long as the connection (it is reset, not replaced, at checkpoints).
      this.wal ??= await fsp.open(this.walFile, 'r');
      await this.wal.datasync();
    })().then(
      () => this.synced(batch, null),
      (err: Error) => this.synced(batch, err),
    );
  }

  private synced(batch: Array<(err: Error | null) => void>, err: Error | null): void {
    this.syncing = false;
    for (const done of batch) done(err);
    if (this.awaitingSync.length) this.syncWal();
  }
}
