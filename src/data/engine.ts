/**
 * What a data service's engine (PostgreSQL, Redis, …) gives DataServiceManager, which knows no engine by name:
 * its binaries, how a volume is prepared, the start argv, the readiness probe, the stop signal, its variables.
 */
import type { Sandbox } from '../runtime/sandbox.js';
import type { DataEngine, DataService } from '../store/data-services.js';
import type { VolumeOwner } from './volume.js';

/** One run of an engine over one volume: where it listens, as whom, in which sandbox. */
export interface EngineRun {
  ds: DataService;
  volume: string;
  /** The service's private address and the engine's port there. */
  host: string;
  port: number;
  owner: VolumeOwner;
  sandbox?: Sandbox;
}

/** What the provided variables are made of (Railway's names are the engine's business). */
export interface EngineEndpoint {
  username: string;
  password: string;
  database: string;
  /** Its private host name (`<service>.<env>.<project>.internal`) and port. */
  privateHost: string;
  privatePort: number;
  /** Where it is reached from outside, when public. */
  publicHost?: string | null;
  publicPort?: number | null;
  /** A pooler's port at the private host, when one is on (PostgreSQL's PgBouncer). */
  pooledPort?: number | null;
}

export interface Engine {
  kind: DataEngine;
  /** Its name in sentences: "PostgreSQL", "Redis". */
  label: string;
  /** The port it listens on at the service's private address. */
  port: number;
  /** The credentials Berth creates a new one with (the password is generated). */
  defaults: { username: string; database: string };
  /** Its graceful stop (data kept), and how long that may take before SIGKILL. */
  stopSignal: NodeJS.Signals;
  stopGraceMs: number;
  /** How long a start may take to accept connections (recovery replays its log). */
  startTimeoutMs: number;
  /** What `berth restart` answers once it is back. */
  restartMessage(name: string): string;
  /** The host's binaries' major version, or a UserError naming the Debian package to install. */
  requireBinaries(): { version: string };
  /** Prepares the (owned, existing) volume for its first start; never re-initialises data already there. */
  provision(run: EngineRun): Promise<void>;
  /** Before every start: the files Berth owns in the volume. */
  beforeStart?(run: EngineRun): void;
  /** The engine in the foreground (it is run under the volume's lock). */
  startArgv(run: EngineRun): string[];
  /** Resolves once it serves; rejects after timeoutMs or as soon as `gone` settles (its reason). */
  waitReady(run: EngineRun, o: { timeoutMs: number; gone?: Promise<string> }): Promise<void>;
  /** After the first start (e.g. the application database). */
  afterFirstStart?(run: EngineRun): Promise<void>;
  /** Railway's provided variables. */
  variables(e: EngineEndpoint): Record<string, string>;
}
