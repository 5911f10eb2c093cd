/**
 * `berth db sleep --after`: a database with no client connection for that long is stopped gracefully, and a wake
 * listener (lib/wake-listener.ts) holds its private address until the next connection starts it again.
 */
import type { Logger } from 'pino';
import { errorMessage, UserError } from '../core/errors.js';
import { Poller } from '../lib/poller.js';
import { EstablishedConnections } from '../lib/tcp-connections.js';
import { WakeListener } from '../lib/wake-listener.js';
import type { DataService } from '../store/data-services.js';
import type { Store } from '../store/store.js';
import type { DataServiceManager } from './data-services.js';
import { engineOf } from './engines.js';

const KIND = 'data-service' as const;
/** How often connections are counted: often enough for an idle period of a few seconds. */
const DEFAULT_POLL_MS = 500;

export interface DataSleepDeps {
  store: Store;
  data: DataServiceManager;
  logger: Logger;
  pollMs?: number;
}

/** What `berth db sleep` answers and `berth status` shows. */
export interface DataSleepSetting {
  afterSeconds: number | null;
  asleep: boolean;
}

export class DataSleep {
  /** By data service id: the listener holding the address of an engine that sleeps. */
  private readonly listeners = new Map<string, WakeListener>();
  /** By data service id: when it last had a client connection (or woke, or this daemon started). */
  private readonly lastBusy = new Map<string, number>();
  private readonly poller: Poller;

  constructor(private readonly deps: DataSleepDeps) {
    this.poller = new Poller({
      everyMs: deps.pollMs ?? DEFAULT_POLL_MS,
      round: () => this.round(),
      onError: (err) => deps.logger.warn(`scale to zero: ${errorMessage(err)}`),
    });
    deps.data.sleepHooks = {
      asleep: (ds) => deps.store.sleepStates.isAsleep(KIND, ds.id),
      beforeStart: (ds) => this.release(ds),
    };
  }

  /** At daemon start (after the engines were adopted): listeners for those that sleep, then counting. */
  async start(): Promise<void> {
    for (const s of this.deps.store.sleepStates.list(KIND)) {
      const ds = this.deps.store.dataServices.findById(s.id);
      if (!ds || !s.asleepSince) continue;
      await this.listen(ds).catch((err) => {
        this.cannotSleep(ds, err);
        void this.deps.data
          .exclusive(ds, async (ops) => {
            if (this.deps.data.state(ds) !== 'running') await ops.start();
          })
          .catch((e) => this.deps.logger.warn(`could not start ${this.label(ds)}: ${errorMessage(e)}`));
      });
    }
    this.poller.start();
  }

  /** Stops counting and listening (held connections are dropped: their clients see the daemon go). */
  close(): void {
    this.poller.stop();
    for (const l of this.listeners.values()) l.destroy();
    this.listeners.clear();
  }

  setting(ds: DataService): DataSleepSetting {
    const s = this.deps.store.sleepStates.find(KIND, ds.id);
    return { afterSeconds: s?.afterSeconds ?? null, asleep: s?.asleepSince != null };
  }

  /** `berth db sleep --after N` (null: `off`, which wakes it when it sleeps). */
  async set(ds: DataService, afterSeconds: number | null): Promise<DataSleepSetting> {
    if (afterSeconds !== null && (!Number.isInteger(afterSeconds) || afterSeconds < 1)) {
      throw new UserError('The idle period must be a whole number of seconds, 1 or more (e.g. --after 10m).');
    }
    this.deps.store.sleepStates.setAfter(KIND, ds.id, afterSeconds);
    this.lastBusy.set(ds.id, Date.now());
    // exclusive() wakes a sleeping engine before anything else.
    if (afterSeconds === null && this.setting(ds).asleep) await this.deps.data.exclusive(ds, async () => {});
    return this.setting(ds);
  }

  /**
   * One round: each awake database with an idle period either had a client or has been idle that long. The
   * kernel's TCP table is read once per round (when a database needs it), not once per database.
   */
  private async round(): Promise<void> {
    const { store } = this.deps;
    let table: EstablishedConnections | null = null;
    const connections = () => {
      table ??= EstablishedConnections.read();
      return table;
    };
    for (const s of store.sleepStates.list(KIND)) {
      const ds = store.dataServices.findById(s.id);
      if (!ds || s.asleepSince || s.afterSeconds === null) continue;
      if (this.deps.data.state(ds) !== 'running' || this.clients(ds, connections()) > 0) {
        this.lastBusy.set(ds.id, Date.now());
        continue;
      }
      const since = this.lastBusy.get(ds.id) ?? Date.now();
      if (!this.lastBusy.has(ds.id)) this.lastBusy.set(ds.id, since);
      if (Date.now() - since < s.afterSeconds * 1000) continue;
      await this.sleep(ds, s.afterSeconds);
      // Stopping an engine takes a while: the next database gets a fresh table.
      table = null;
    }
    // Deleted while asleep: its address is free again.
    for (const [id, l] of this.listeners) {
      if (!store.dataServices.findById(id)) {
        l.destroy();
        this.listeners.delete(id);
      }
    }
  }

  /** Client connections to the engine's address (PgBouncer's server connections count: they are clients). */
  private clients(ds: DataService, table: EstablishedConnections): number {
    const c = this.deps.data.connection(ds);
    return table.to(c.host, c.port);
  }

  /** Stops the engine (its graceful stop, data kept) and listens on its address in its place. */
  private async sleep(ds: DataService, afterSeconds: number): Promise<void> {
    await this.deps.data.exclusive(ds, async (ops) => {
      // Checked again under the lock: a client may have connected since the count.
      if (this.clients(ds, EstablishedConnections.read()) > 0 || this.deps.data.state(ds) !== 'running')
        return;
      await ops.stop();
      this.deps.store.sleepStates.setAsleep(KIND, ds.id, true);
      try {
        await this.listen(ds);
      } catch (err) {
        this.cannotSleep(ds, err);
        await ops.start();
        return;
      }
      this.deps.logger.info(`${this.label(ds)} sleeps after ${afterSeconds}s without a client connection`);
    });
  }

  private async listen(ds: DataService): Promise<void> {
    const c = this.deps.data.connection(ds);
    const listener = await WakeListener.open({
      host: c.host,
      port: c.port,
      releaseOnWake: true,
      wake: () => this.wake(ds),
      onWakeFailed: (err) => {
        this.deps.logger.warn(`${this.label(ds)} could not wake: ${errorMessage(err)}`);
        // Still asleep as far as the store says: listen again so the next client tries again.
        if (this.deps.store.sleepStates.isAsleep(KIND, ds.id)) {
          void this.listen(ds).catch((e) => this.cannotSleep(ds, e));
        }
      },
    });
    this.listeners.set(ds.id, listener);
  }

  /** The first connection: start the engine on the address the listener just let go, then pipe to it. */
  private async wake(ds: DataService): Promise<{ host: string; port: number }[]> {
    const t0 = Date.now();
    // Started by exclusive() itself while still asleep; an operation that held the lock may have woken it already.
    await this.deps.data.exclusive(ds, async (ops) => {
      if (this.deps.data.state(ds) !== 'running') await ops.start();
    });
    this.lastBusy.set(ds.id, Date.now());
    this.deps.logger.info(`${this.label(ds)} woke on a connection in ${Date.now() - t0} ms`);
    const c = this.deps.data.connection(ds);
    return [{ host: c.host, port: c.port }];
  }

  /** Any start of the engine: the listener lets go of its address and the database counts as awake. */
  private release(ds: DataService): void {
    const l = this.listeners.get(ds.id);
    if (l) {
      l.close();
      this.listeners.delete(ds.id);
    }
    if (this.deps.store.sleepStates.isAsleep(KIND, ds.id)) {
      this.deps.store.sleepStates.setAsleep(KIND, ds.id, false);
      this.lastBusy.set(ds.id, Date.now());
    }
  }

  private cannotSleep(ds: DataService, err: unknown): void {
    this.deps.store.sleepStates.setAsleep(KIND, ds.id, false);
    this.deps.logger.warn(`${this.label(ds)} stays awake: ${errorMessage(err)}`);
  }

  private label(ds: DataService): string {
    const s = this.deps.store.services.findById(ds.serviceId);
    return `${engineOf(ds.engine).label} ${s?.name ?? ds.serviceId}`;
  }
}
