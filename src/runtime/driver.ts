/**
 * The runtime seam: how Berth starts, finds again, watches, stops and reads a workload it keeps running.
 * ProcessDriver (host processes) implements it; a container or Kubernetes driver would too. See README.md.
 */
import type { Sandbox } from './sandbox.js';

/** What runs: the user's shell command (`sh -c`, one argv element), or a program and its arguments (an engine). */
export type Program = { command: string; argv?: never } | { argv: readonly string[]; command?: never };

/** Limits a driver may enforce; `RuntimeDriver.limits` says which ones it can on this host. */
export interface ResourceLimits {
  /** Open file descriptors (RLIMIT_NOFILE). */
  openFiles?: number;
  /** Processes of the workload's user (RLIMIT_NPROC); meaningful when it runs as a uid of its own. */
  processes?: number;
  /** Size of one file it may write (RLIMIT_FSIZE), in bytes. */
  fileBytes?: number;
  /** Memory of the whole workload (cgroups); beyond it the kernel OOM-kills it. */
  memoryBytes?: number;
  /** CPUs' worth of time (0.5 = half a core) for the whole workload (cgroups). */
  cpus?: number;
  /** Processes and threads of the whole workload at once (cgroups). */
  pids?: number;
}
export type LimitName = keyof ResourceLimits;

export type WorkloadSpec = Program & {
  /** Berth's id for it (an instance id); used in error messages. */
  id: string;
  cwd: string;
  /** The complete environment: nothing of the daemon's own is added. */
  env: Record<string, string>;
  /** Ports it listens on, by name (`http`); `address()` says where each is reached. */
  ports?: Record<string, number>;
  /** stdout and stderr are appended to these files, which the workload holds itself (the daemon may die). */
  logs: { stdout: string; stderr: string };
  /** Run inside this sandbox (sandbox.ts); absent: as the daemon's user. */
  sandbox?: Sandbox;
  /** Enforced where the driver can (`limits`); others are rejected by start(). */
  limits?: ResourceLimits;
};

export interface ExitInfo {
  /** null when unknown (an adopted process whose parent was a previous daemon) or killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the kernel killed it at its memory limit (the driver saw its cgroup's OOM counter move). */
  oomKilled?: true;
}

/**
 * Opaque to everyone but its driver, and plain JSON: callers store `JSON.stringify(handle)` and give the
 * parsed value to `adopt()` of a later driver instance. `driver` names the driver that made it.
 */
export interface WorkloadHandle {
  readonly driver: string;
  readonly id: string;
}

export type LogStream = 'stdout' | 'stderr';

export interface LogChunk {
  text: string;
  /** Pass this as the next offset to continue without gaps or repeats. */
  next: number;
}

export interface Address {
  host: string;
  ports: Record<string, number>;
}

export interface RuntimeDriver<H extends WorkloadHandle = WorkloadHandle> {
  /** Stored in handles; `adopt()` refuses handles of another kind. */
  readonly kind: string;
  /** The resource limits this driver enforces on this host. */
  readonly limits: readonly LimitName[];
  /** Why some limits are missing from `limits` on this host (one sentence), or null. */
  readonly limitsNote: string | null;
  /**
   * CPU time each workload used so far, in ns (null when it cannot be read), in the order given. Batched: the
   * autoscaler reads all its replicas at once, so a driver can share one scan among them.
   */
  cpuUsageNs(hs: readonly H[]): (number | null)[];
  /** Starts a workload; rejects with a message naming the cause (missing cwd, spawn failure, unsupported limit). */
  start(spec: WorkloadSpec): Promise<H>;
  /**
   * Takes a handle a previous daemon stored (parsed JSON, unchecked) and returns it when that very workload
   * still runs; null when it is gone or its identity no longer matches (a pid reused by another process).
   */
  adopt(stored: unknown): Promise<H | null>;
  isAlive(h: H): Promise<boolean>;
  /** Calls onExit once when the workload ends (code or signal when the driver can know them). Returns unwatch. */
  watch(h: H, onExit: (info: ExitInfo) => void): () => void;
  /**
   * `signal` (default SIGTERM) to the whole workload, SIGKILL after graceMs; resolves once nothing of it is
   * left. null when there was nothing to stop. Never throws.
   */
  stop(h: H, opts: { graceMs: number; signal?: NodeJS.Signals }): Promise<ExitInfo | null>;
  /** SIGKILL to the whole workload, now. */
  kill(h: H): void;
  /** Output from a byte offset (at most maxBytes); an offset past the end (the log was emptied) reads from 0. */
  readLogs(h: H, stream: LogStream, offset: number, maxBytes?: number): Promise<LogChunk>;
  /** The files its output is appended to (the spec's `logs`), for following them as they grow. */
  logFiles(h: H): { stdout: string; stderr: string };
  /** Where its ports are reached from the host. */
  address(h: H): Address;
  /**
   * What a further process run next to the workload (`berth ssh`) starts with, so that it runs within the
   * workload's limits from its first instruction (ProcessDriver: the entry into its cgroup); [] when it has none.
   */
  joinArgv(h: H): string[];
}
