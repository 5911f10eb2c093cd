/**
 * Data services (a service of kind `postgres`, `redis`, …): provisions each one's volume and engine (an Engine,
 * src/data/engine.ts), keeps it running as a supervised singleton (restart policy ALWAYS, stop-then-start), and
 * re-adopts it after a daemon restart. See src/data/README.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { errorMessage, UserError } from '../core/errors.js';
import type { Environment, Project, Service } from '../core/model.js';
import type { DataPaths } from '../deploy/paths.js';
import { privateAddressOf, privateDomain } from '../deploy/private-network.js';
import type { SandboxUsers } from '../deploy/sandbox-users.js';
import { KeyedLock } from '../lib/keyed-lock.js';
import type { RuntimeDriver } from '../runtime/driver.js';
import { findSystemTool } from '../runtime/sandbox.js';
import { describeExit, type RestartPlan, Supervisor, type WorkloadHooks } from '../runtime/supervisor.js';
import type { ExitInfo } from '../runtime/types.js';
import type { DataEngine, DataService } from '../store/data-services.js';
import type { Store } from '../store/store.js';
import type { StoredWorkload, WorkloadState } from '../store/workloads.js';
import type { EngineRun } from './engine.js';
import { type EngineLogFiles, lastEngineLines, logEnds, rotateEngineLog } from './engine-log.js';
import { engineUser } from './engine-user.js';
import { engineOf } from './engines.js';
import { generatePassword } from './password.js';
import type { ClusterSeed } from './postgres/cluster.js';
import { Poolers } from './postgres/pooler.js';
import { dataServiceVariables } from './provided.js';
import { alwaysRestartPlan, Superseded } from './restart-plan.js';
import { LOCK_CONFLICT_EXIT, singletonArgv } from './singleton-argv.js';
import { ownedDir } from './volume.js';

export { generatePassword } from './password.js';

const OWNER = 'data-service' as const;
/** How often engines' logs are checked against their cap (PostgreSQL writes a few lines a minute when idle). */
const LOG_ROTATION_EVERY_MS = 10 * 60_000;
/** In the volume: held (flock) by the running engine, so a second one over the same data cannot start. */
const ENGINE_LOCK = 'engine.lock';

export interface DataServiceDeps {
  store: Store;
  paths: DataPaths;
  driver: RuntimeDriver;
  /** Who the engine runs as (the service's sandbox user when the daemon is root). */
  sandboxUsers: SandboxUsers;
  logger: Logger;
  /** The server's public host name (DATABASE_PUBLIC_URL of a public data service). */
  publicHost: string;
  /** The private names changed (a data service came or went): rewrite the hosts file. */
  namesChanged: () => Promise<void>;
}

/** Where a data service is reached and with which credentials (what backups and `berth connect` use). */
export interface Connection {
  host: string;
  port: number;
  username: string;
  password: string;
  database: string;
}

/** What DataServiceManager.exclusive() hands its callback. */
export interface ExclusiveOps {
  stop(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
}

/** A data service's state for `berth status`: its engine workload's, `stopped` when none runs, `sleeping`. */
export type DataServiceState = WorkloadState | 'stopped' | 'sleeping';

/** What scale to zero (sleep.ts) tells the manager: which engines sleep, and that one is about to start. */
export interface SleepHooks {
  asleep(ds: DataService): boolean;
  /** Before any start of the engine (a wake, a restart, a restore): whatever holds its address lets go. */
  beforeStart(ds: DataService): void;
}

export class DataServiceManager {
  private readonly supervisor: Supervisor;
  /** Each data service's PgBouncer, when on (postgres/pooler.ts). */
  readonly poolers: Poolers;
  /** One operation at a time per data service: never two engines over one data directory. */
  private readonly lock = new KeyedLock();
  /** Per data service, bumped by every start and stop of Berth's: restart loops of an older run stand down. */
  private readonly runs = new Map<string, number>();
  /** Set by DataSleep (sleep.ts). */
  sleepHooks: SleepHooks = { asleep: () => false, beforeStart: () => undefined };

  /** Log rotation of engines and their sidecars, from adopt() until close(). */
  private rotation: NodeJS.Timeout | null = null;

  constructor(private readonly deps: DataServiceDeps) {
    this.supervisor = new Supervisor(deps.driver);
    this.poolers = new Poolers({
      ...deps,
      connection: (ds) => this.connection(ds),
      volumeOf: (ds) => this.volumeOf(ds),
      runAs: (ds) => engineUser(deps.sandboxUsers, { ...ds, volume: this.volumeOf(ds) }, false),
      nameOf: (ds) => this.nameOf(ds),
    });
  }

  /**
   * `berth add --database ENGINE --service NAME`: a new data service in the environment, provisioned and
   * running when this resolves. A service of that name and engine that is not in this environment yet gets
   * provisioned here. A failed provisioning leaves nothing behind.
   */
  async add(
    project: Project,
    environment: Environment,
    name: string,
    kind: DataEngine,
    /** A cluster made another way than the engine's own (a branch: a copy of another database), with its role. */
    seed: ClusterSeed | null = null,
  ): Promise<{ service: Service; dataService: DataService }> {
    const { store } = this.deps;
    const engine = engineOf(kind);
    const { version } = engine.requireBinaries();
    engineUser(this.deps.sandboxUsers, null, false); // refuses a root daemon without its sandbox before anything is created
    const existing = store.services.find(project, name);
    if (existing && (existing.kind !== kind || store.dataServices.find(existing.id, environment.id))) {
      throw new UserError(
        `Service "${name}" already exists in project "${project.name}"; pick another name with --service.`,
        { status: 409, code: 'conflict' },
      );
    }
    const service = existing ?? store.services.create(project, name, kind);
    const dataService = store.dataServices.create({
      serviceId: service.id,
      environmentId: environment.id,
      engine: kind,
      version,
      ...engine.defaults,
      ...(seed ? { username: seed.username, database: seed.database } : {}),
      password: seed?.password ?? generatePassword(),
    });
    try {
      await this.lock.run(dataService.id, () => this.provision(dataService, seed));
    } catch (err) {
      await this.lock.run(dataService.id, () => this.stopEngine(dataService)).catch(() => undefined);
      fs.rmSync(this.deps.paths.volume(service.id, environment.id), { recursive: true, force: true });
      if (existing) store.dataServices.delete(dataService.id);
      else store.services.delete(service.id);
      if (err instanceof UserError) throw err;
      throw new UserError(`Could not provision ${engine.label} for ${name}: ${errorMessage(err)}`, {
        status: 500,
        code: 'provisioning_failed',
      });
    }
    await this.deps.namesChanged().catch(() => undefined);
    return { service, dataService: store.dataServices.getById(dataService.id) };
  }

  /** The data service of a service in an environment, or a sentence saying it is not provisioned there. */
  get(service: Service, environment: Environment): DataService {
    const ds = this.deps.store.dataServices.find(service.id, environment.id);
    if (ds) return ds;
    if (service.kind === 'app') {
      throw new UserError(`Service "${service.name}" is an app, not a database.`, {
        status: 400,
        code: 'not_a_database',
      });
    }
    throw new UserError(
      `${service.name} is not provisioned in environment ${environment.name}; run \`berth add --database ${service.kind} --service ${service.name} -e ${environment.name}\`.`,
      { status: 404, code: 'not_found' },
    );
  }

  /** How the engine is reached on the private network, with the superuser's credentials. */
  connection(ds: DataService): Connection {
    const { ip } = privateAddressOf(this.deps.store, ds.serviceId, ds.environmentId);
    return {
      host: ip,
      port: engineOf(ds.engine).port,
      username: ds.username,
      password: ds.password,
      database: ds.database,
    };
  }

  /** The server's public host name (where a public data service is reached). */
  get publicHost(): string {
    return this.deps.publicHost;
  }

  /** The variables it provides to references (Postgres: DATABASE_URL, PG*, …), as `berth variables` shows them. */
  variables(ds: DataService): Record<string, string> {
    const { store } = this.deps;
    const service = store.services.getById(ds.serviceId);
    const environment = store.environments.getById(ds.environmentId);
    const project = store.projects.getById(service.projectId);
    const names = { service: service.name, environment: environment.name, project: project.name };
    return dataServiceVariables(store, ds.serviceId, ds.environmentId, {
      privateDomain: privateDomain(names),
      publicHost: this.deps.publicHost,
    });
  }

  /** The volume of a data service (Postgres: its cluster is `pgdata/` inside). */
  volumeOf(ds: DataService): string {
    return this.deps.paths.volume(ds.serviceId, ds.environmentId);
  }

  state(ds: DataService): DataServiceState {
    const w = this.workloadOf(ds);
    if (this.sleepHooks.asleep(ds)) return 'sleeping';
    if (!w || w.state === 'exited') return 'stopped';
    return w.state;
  }

  /** The engine's graceful stop (data kept), then a fresh start. */
  restart(ds: DataService): Promise<void> {
    engineOf(ds.engine).requireBinaries();
    return this.lock.run(ds.id, async () => {
      await this.stopEngine(ds);
      await this.startEngine(ds);
    });
  }

  /**
   * Runs fn while no start, stop or restart of this data service can run (backups, restores and branches that
   * need the cluster still); its ops do the same without taking the lock again: `stop` is a graceful stop (the
   * engine stays down, and is not restarted by policy, until `start`), `restart` is stop then start.
   */
  exclusive<T>(ds: DataService, fn: (ops: ExclusiveOps) => Promise<T>): Promise<T> {
    return this.lock.run(ds.id, async () => {
      // A sleeping engine wakes first: fn may connect to it, and a wake listener's own wake would wait for this lock.
      if (this.sleepHooks.asleep(ds)) await this.startEngine(ds);
      return fn({
        stop: () => this.stopEngine(ds),
        start: () => this.startEngine(ds),
        restart: async () => {
          await this.stopEngine(ds);
          await this.startEngine(ds);
        },
      });
    });
  }

  /** The private names or public ports changed: the hosts file and the edge's endpoints follow. */
  endpointsChanged(): Promise<void> {
    return this.deps.namesChanged();
  }

  /** The engine's last output lines, oldest first (stderr, where PostgreSQL logs, then stdout). */
  logLines(ds: DataService, limit: number): string[] {
    const w = this.workloadOf(ds);
    return w ? lastEngineLines(this.filesOf(w.id), limit) : [];
  }

  /** The engine's output files, to follow (null before its first start). */
  logFiles(ds: DataService): EngineLogFiles | null {
    const w = this.workloadOf(ds);
    return w ? this.filesOf(w.id) : null;
  }

  private filesOf(workloadId: string): EngineLogFiles {
    return {
      stdout: this.deps.paths.instanceOutput(workloadId, 'stdout'),
      stderr: this.deps.paths.instanceOutput(workloadId, 'stderr'),
    };
  }

  /**
   * At daemon start: follows every engine a previous daemon left running (by pid and start time, so it is
   * never started twice) and starts those that are not running.
   */
  async adopt(): Promise<void> {
    const { store, logger } = this.deps;
    for (const ds of store.dataServices.list()) {
      const w = this.workloadOf(ds);
      const stored = w?.handle ?? null;
      const adopted =
        w && stored
          ? await this.supervisor.adopt(stored, logEnds(this.filesOf(w.id)), this.hooks(ds, w.id))
          : null;
      if (adopted && w) {
        if (w.state !== 'running') store.workloads.update(w.id, { state: 'running' });
        continue;
      }
      if (w) store.workloads.update(w.id, { state: 'exited', handle: null });
      if (this.sleepHooks.asleep(ds)) continue; // its wake listener holds its address (sleep.ts)
      void this.lock
        .run(ds.id, () => this.startEngine(ds))
        .catch((err) => logger.warn(`could not start ${this.nameOf(ds)}: ${errorMessage(err)}`));
    }
    await this.poolers.adopt();
    this.rotation ??= setInterval(() => this.rotateLogs(), LOG_ROTATION_EVERY_MS).unref();
  }

  /** Rotates every running engine's and sidecar's output files that grew past their cap. */
  rotateLogs(): void {
    for (const w of this.deps.store.workloads.live([OWNER, 'data-sidecar'])) {
      const files = this.filesOf(w.id);
      rotateEngineLog(files.stdout);
      rotateEngineLog(files.stderr);
    }
  }

  /** Stops the engines of these services in these environments, which are being deleted (volumes stay on disk). */
  async stopEngines(pairs: readonly { serviceId: string; environmentId: string }[]): Promise<void> {
    const keys = new Set(pairs.map((p) => `${p.serviceId}:${p.environmentId}`));
    await Promise.all(
      this.deps.store.dataServices
        .list()
        .filter((ds) => keys.has(`${ds.serviceId}:${ds.environmentId}`))
        .map(async (ds) => {
          await this.poolers.stop(ds);
          await this.lock.run(ds.id, () => this.stopEngine(ds));
        }),
    );
  }

  /** Stops following (engines keep running for the next daemon to adopt). */
  close(): void {
    if (this.rotation) clearInterval(this.rotation);
    this.rotation = null;
    this.supervisor.close();
    this.poolers.close();
  }

  private nameOf(ds: DataService): string {
    const s = this.deps.store.services.getById(ds.serviceId);
    const e = this.deps.store.environments.getById(ds.environmentId);
    return `${s.name} (${e.name})`;
  }

  private workloadOf(ds: DataService): StoredWorkload | null {
    return this.deps.store.workloads.of([OWNER], ds.id)[0] ?? null;
  }

  private async provision(ds: DataService, seed: ClusterSeed | null): Promise<void> {
    const engine = engineOf(ds.engine);
    const run = this.engineRun(ds, true);
    const t0 = performance.now();
    ownedDir(run.volume, run.owner);
    if (seed) await seed.initialise({ ds, volume: run.volume, owner: run.owner, sandbox: run.sandbox });
    else await engine.provision(run);
    const t1 = performance.now();
    await this.startEngine(ds);
    const t2 = performance.now();
    await engine.afterFirstStart?.(run);
    await seed?.started?.(ds, this.connection(ds));
    const s = (ms: number) => `${(ms / 1000).toFixed(2)}s`;
    this.deps.logger.info(
      `provisioned ${this.nameOf(ds)} in ${s(performance.now() - t0)} (volume ${s(t1 - t0)}, first start ${s(t2 - t1)}, after it ${s(performance.now() - t2)})`,
    );
  }

  /** Where and as whom the engine of ds runs (dieWithParent: a one-off job of this daemon, not the engine). */
  private engineRun(ds: DataService, dieWithParent: boolean): EngineRun {
    const volume = this.volumeOf(ds);
    const { owner, sandbox } = engineUser(this.deps.sandboxUsers, { ...ds, volume }, dieWithParent);
    const c = this.connection(ds);
    return { ds, volume, host: c.host, port: c.port, owner, sandbox };
  }

  /** Starts the engine (after stopping any run of it still recorded) and waits until it accepts connections. */
  private async startEngine(ds: DataService): Promise<void> {
    const { store } = this.deps;
    await this.stopEngine(ds);
    this.sleepHooks.beforeStart(ds);
    const w =
      this.workloadOf(ds) ??
      store.workloads.create({
        ownerKind: OWNER,
        ownerId: ds.id,
        slot: 0,
        ports: { [ds.engine]: engineOf(ds.engine).port },
        state: 'starting',
      });
    store.workloads.update(w.id, { state: 'starting', exitCode: null });
    try {
      await this.spawn(ds, w.id);
      await this.gate(ds, w.id);
    } catch (err) {
      await this.supervisor.stop(w.id, 0, store.workloads.get(w.id).handle);
      store.workloads.update(w.id, { state: 'crashed', handle: null });
      throw err;
    }
    store.workloads.update(w.id, { state: 'running' });
  }

  private async spawn(ds: DataService, workloadId: string): Promise<void> {
    const engine = engineOf(ds.engine);
    const run = this.engineRun(ds, false);
    const flock = findSystemTool('flock');
    if (!flock)
      throw new Error('flock (util-linux) is missing; Berth needs it to keep one engine per volume');
    engine.beforeStart?.(run);
    const handle = await this.supervisor.start(
      {
        id: workloadId,
        argv: singletonArgv(flock, path.join(run.volume, ENGINE_LOCK), engine.startArgv(run)),
        cwd: run.volume,
        env: { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', TZ: 'UTC' },
        ports: { [ds.engine]: run.port },
        logs: this.filesOf(workloadId),
        sandbox: run.sandbox,
      },
      this.hooks(ds, workloadId),
    );
    this.deps.store.workloads.update(workloadId, { handle });
  }

  /** Resolves once the engine serves; rejects when it exits first, with its last lines. */
  private async gate(ds: DataService, workloadId: string): Promise<void> {
    const engine = engineOf(ds.engine);
    const exited = this.supervisor.exited(workloadId);
    const gone = exited?.then((info) => {
      if (info.code === LOCK_CONFLICT_EXIT) {
        return `another ${engine.label} is still running over ${this.volumeOf(ds)} (it holds ${ENGINE_LOCK}); stop it first`;
      }
      const last = this.logLines(ds, 3).join(' ');
      return `${engine.label} ${describeExit(info)} before it accepted connections${last ? `: ${last}` : ''}`;
    });
    await engine.waitReady(this.engineRun(ds, false), { timeoutMs: engine.startTimeoutMs, gone });
  }

  /** Graceful stop of whatever run of the engine is recorded; its row stays, state `exited`. */
  private async stopEngine(ds: DataService): Promise<void> {
    const { store } = this.deps;
    this.nextRun(ds);
    const w = this.workloadOf(ds);
    if (!w) return;
    store.workloads.update(w.id, { state: 'stopping' });
    const engine = engineOf(ds.engine);
    const info = await this.supervisor.stop(w.id, engine.stopGraceMs, w.handle, engine.stopSignal);
    store.workloads.update(w.id, { state: 'exited', handle: null, exitCode: info?.code ?? null });
  }

  private hooks(ds: DataService, workloadId: string): WorkloadHooks {
    return {
      // The output files are the engine's log (`berth logs`); nothing else reads its lines.
      onLine: () => {},
      onExit: (info) => void this.onExit(ds.id, workloadId, info),
    };
  }

  private async onExit(dataServiceId: string, workloadId: string, info: ExitInfo): Promise<void> {
    const { store } = this.deps;
    const w = store.workloads.find(workloadId);
    const ds = store.dataServices.findById(dataServiceId);
    // Stops Berth asked for, and starts still in their gate (the starter reports those), need no policy.
    if (!w || !ds || w.state !== 'running') return;
    await this.supervisor.keepRunning(workloadId, info, this.restartPlan(ds, workloadId));
  }

  /** Restart policy ALWAYS with the supervisor's backoff, for as long as the data service exists. */
  private restartPlan(ds: DataService, workloadId: string): RestartPlan {
    const { store } = this.deps;
    // A start or stop by Berth (restart, config, environment deletion) supersedes this loop: from then on it
    // touches neither the row nor the engine, so it can never record a stale state or spawn a second engine.
    const run = this.runOf(ds);
    const current = () => this.runOf(ds) === run && store.dataServices.findById(ds.id) !== null;
    return alwaysRestartPlan({
      name: `${engineOf(ds.engine).label} of ${this.nameOf(ds)}`,
      workloads: store.workloads,
      workloadId,
      logger: this.deps.logger,
      logFiles: this.filesOf(workloadId),
      current,
      // Under the lock, so no start or stop of Berth's runs meanwhile.
      respawn: () =>
        this.lock.run(ds.id, async () => {
          if (!current()) throw new Superseded();
          await this.spawn(ds, workloadId);
        }),
      gate: () => this.gate(ds, workloadId),
    });
  }

  /** Which start or stop of Berth's a data service is at (see restartPlan). */
  private runOf(ds: DataService): number {
    return this.runs.get(ds.id) ?? 0;
  }

  private nextRun(ds: DataService): void {
    this.runs.set(ds.id, this.runOf(ds) + 1);
  }
}
