import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CgroupHost, type CgroupMode, readCpuUsageNs, releaseCgroup, wasOomKilled } from './cgroup-host.js';
import {
  type CgroupLimitName,
  type CgroupLimits,
  type CgroupPlacement,
  cgroupEnterArgv,
  placementProcs,
} from './cgroups.js';
import type { LimitName, LogChunk, LogStream, RuntimeDriver, WorkloadSpec } from './driver.js';
import { groupAlive, groupsCpuNs, isLiveStat, readProcStat, signalGroup } from './proc.js';
import { processArgv } from './process-argv.js';
import { findSystemTool } from './sandbox.js';
import { spawnGroup } from './spawn-group.js';
import { stopGroup } from './stop-group.js';
import type { ExitInfo, ProcessHandle } from './types.js';

/** How often an adopted process (not our child) is checked for exit. */
const ADOPTED_POLL_MS = 250;
/** Most bytes readLogs returns at once unless asked for fewer. */
const READ_LOGS_MAX = 1024 * 1024;

const CGROUP_LIMITS: readonly CgroupLimitName[] = ['memoryBytes', 'cpus', 'pids'];

interface OwnChild {
  startTime: string;
  child: ChildProcess;
  /** Set once the 'exit' event arrived. */
  exit: ExitInfo | null;
  exited: Promise<ExitInfo>;
}

/**
 * Runs workloads as host processes: `sh -c <command>` (or a program) in a new session, output appended to
 * files, unref'd so the daemon can exit (or be killed) while they keep running. The handle (pid + start time)
 * is enough for a later daemon to find, watch and stop the process again.
 */
export class ProcessDriver implements RuntimeDriver<ProcessHandle> {
  readonly kind = 'process' as const;
  private readonly prlimit: string | null;
  /** Children started by this instance, by pid. Bounded by pid_max: a reused pid replaces its entry. */
  private readonly own = new Map<number, OwnChild>();
  private readonly cgroupMode: CgroupMode;
  /** Found on first use (a probe cgroup): most drivers (the edge's, `server stop`'s) never need one. */
  private cgroupHost: CgroupHost | { why: string } | null = null;

  constructor(opts: { prlimit?: string | null; cgroups?: CgroupMode } = {}) {
    this.prlimit = opts.prlimit === undefined ? findSystemTool('prlimit') : opts.prlimit;
    this.cgroupMode = opts.cgroups ?? 'auto';
  }

  private get cgroups(): CgroupHost | { why: string } {
    this.cgroupHost ??= CgroupHost.open(this.cgroupMode);
    return this.cgroupHost;
  }

  get limits(): readonly LimitName[] {
    const prlimits: LimitName[] = this.prlimit === null ? [] : ['openFiles', 'processes', 'fileBytes'];
    const cg = this.cgroups;
    return [...prlimits, ...('why' in cg ? [] : cg.limits)];
  }

  get limitsNote(): string | null {
    const cg = this.cgroups;
    if ('why' in cg) return cg.why;
    const missing = CGROUP_LIMITS.filter((l) => !cg.limits.includes(l));
    return missing.length > 0
      ? `this host's cgroup v${cg.version} hierarchy has no controller for ${missing.join(', ')}`
      : null;
  }

  async start(spec: WorkloadSpec): Promise<ProcessHandle> {
    let cwdOk = false;
    try {
      cwdOk = fs.statSync(spec.cwd).isDirectory();
    } catch {
      cwdOk = false;
    }
    if (!cwdOk) throw new Error(`cannot start ${spec.id}: working directory ${spec.cwd} does not exist`);
    // Checked before any log file is opened: a spec that cannot run leaves nothing behind.
    let program: string;
    try {
      program = processArgv({ ...spec, program: spec, prlimit: this.prlimit })[0];
    } catch (e) {
      throw new Error(`cannot start ${spec.id}: ${(e as Error).message}`);
    }
    const cgroup = this.cgroupFor(spec);

    fs.mkdirSync(path.dirname(spec.logs.stdout), { recursive: true });
    fs.mkdirSync(path.dirname(spec.logs.stderr), { recursive: true });
    const out = openOutput(spec.logs.stdout);
    let err: number;
    try {
      err = openOutput(spec.logs.stderr);
    } catch (e) {
      fs.closeSync(out);
      throw e;
    }

    let child: ChildProcess;
    try {
      child = spawnGroup({
        program: spec,
        cwd: spec.cwd,
        env: spec.env,
        sandbox: spec.sandbox,
        limits: spec.limits,
        prlimit: this.prlimit,
        cgroupProcs: cgroup?.procs,
        stdio: ['ignore', out, err],
      });
    } catch (e) {
      if (cgroup) releaseCgroup(cgroup.placement);
      throw e;
    } finally {
      // The child holds its own copies; the daemon keeps none, so its death cannot SIGPIPE the app.
      fs.closeSync(out);
      fs.closeSync(err);
    }

    const pid = child.pid;
    if (pid === undefined) {
      // spawn() reports failures asynchronously; swallow that event, the throw below says it.
      child.on('error', () => {});
      if (cgroup) releaseCgroup(cgroup.placement);
      throw new Error(`cannot start ${spec.id}: spawning ${program} failed`);
    }
    child.on('error', () => {
      /* after a successful spawn only kill() can error; nothing to do */
    });

    // The child has forked, and not been reaped (that needs the event loop), so its stat exists.
    const startTime = readProcStat(pid)?.startTime;
    if (!startTime) {
      signalGroup(pid, 'SIGKILL');
      throw new Error(`cannot start ${spec.id}: /proc/${pid}/stat is unreadable`);
    }

    let resolveExit: (info: ExitInfo) => void = () => {};
    const entry: OwnChild = {
      startTime,
      child,
      exit: null,
      exited: new Promise<ExitInfo>((resolve) => {
        resolveExit = resolve;
      }),
    };
    child.once('exit', (code, signal) => {
      entry.exit = {
        code,
        signal,
        ...(cgroup && wasOomKilled(cgroup.placement) ? { oomKilled: true } : {}),
      };
      if (cgroup) releaseCgroup(cgroup.placement);
      resolveExit(entry.exit);
    });
    child.unref();
    this.own.set(pid, entry);
    return {
      driver: 'process',
      id: spec.id,
      pid,
      startTime,
      logs: { stdout: spec.logs.stdout, stderr: spec.logs.stderr },
      ports: { ...(spec.ports ?? {}) },
      ...(cgroup ? { cgroup: cgroup.placement } : {}),
    };
  }

  /** A fresh cgroup for this start when the spec has cgroup limits; throws when the host cannot make one. */
  private cgroupFor(spec: WorkloadSpec): { placement: CgroupPlacement; procs: string[] } | null {
    const limits: CgroupLimits = {};
    for (const name of CGROUP_LIMITS) {
      const v = spec.limits?.[name];
      if (v === undefined) continue;
      const whole = name !== 'cpus';
      if (!(v > 0) || (whole && !Number.isInteger(v)))
        throw new Error(`cannot start ${spec.id}: resource limit ${name} must be a number above 0, not ${v}`);
      limits[name] = v;
    }
    if (Object.keys(limits).length === 0) return null;
    const cg = this.cgroups;
    if ('why' in cg)
      throw new Error(`cannot start ${spec.id}: its resource limits need cgroups, but ${cg.why}`);
    const missing = (Object.keys(limits) as CgroupLimitName[]).filter((l) => !cg.limits.includes(l));
    if (missing.length > 0) throw new Error(`cannot start ${spec.id}: ${this.limitsNote}`);
    try {
      return cg.create(spec.id, limits);
    } catch (e) {
      throw new Error(`cannot start ${spec.id}: making its cgroup failed (${(e as Error).message})`);
    }
  }

  cpuUsageNs(hs: readonly ProcessHandle[]): (number | null)[] {
    const owned = hs.map((h) => !h.cgroup && this.ownsGroup(h));
    // One /proc scan for every workload without a cgroup, however many there are.
    const groups = groupsCpuNs(hs.filter((_, i) => owned[i]).map((h) => h.pid));
    return hs.map((h, i) => {
      if (h.cgroup) return readCpuUsageNs(h.cgroup);
      return owned[i] ? (groups.get(h.pid) ?? null) : null;
    });
  }

  async adopt(stored: unknown): Promise<ProcessHandle | null> {
    const h = parseHandle(stored);
    return h && this.alive(h) ? h : null;
  }

  async isAlive(h: ProcessHandle): Promise<boolean> {
    return this.alive(h);
  }

  private alive(h: Pick<ProcessHandle, 'pid' | 'startTime'>): boolean {
    const st = readProcStat(h.pid);
    return isLiveStat(st) && st.startTime === h.startTime;
  }

  watch(h: ProcessHandle, onExit: (info: ExitInfo) => void): () => void {
    let done = false;
    let cleanup: () => void = () => {};
    const fire = (info: ExitInfo) => {
      if (done) return;
      done = true;
      cleanup();
      onExit(info);
    };

    const own = this.ownChild(h);
    if (own) {
      if (own.exit) {
        const info = own.exit;
        const t = setImmediate(() => fire(info));
        cleanup = () => clearImmediate(t);
      } else {
        // start()'s own listener ran first and recorded the exit with what the cgroup says.
        const listener = (code: number | null, signal: NodeJS.Signals | null) =>
          fire(own.exit ?? { code, signal });
        own.child.once('exit', listener);
        cleanup = () => own.child.off('exit', listener);
      }
    } else {
      // Adopted: not our child, so no exit status; poll. The first check is immediate.
      let timer: NodeJS.Timeout | null = null;
      const check = () => {
        timer = null;
        if (done) return;
        if (!this.alive(h)) {
          const oom = h.cgroup && wasOomKilled(h.cgroup);
          if (h.cgroup) releaseCgroup(h.cgroup);
          return fire({ code: null, signal: null, ...(oom ? { oomKilled: true as const } : {}) });
        }
        timer = setTimeout(check, ADOPTED_POLL_MS);
        timer.unref();
      };
      timer = setTimeout(check, 0);
      timer.unref();
      cleanup = () => {
        if (timer) clearTimeout(timer);
        timer = null;
      };
    }

    return () => {
      done = true;
      cleanup();
    };
  }

  async stop(h: ProcessHandle, opts: { graceMs: number; signal?: NodeJS.Signals }): Promise<ExitInfo | null> {
    const own = this.ownChild(h);
    // Nothing left to stop (our own child may have exited without its 'exit' event handled yet).
    const nothing = async () => (own ? (own.exit ?? (await withTimeout(own.exited, 1000))) : null);
    if (!this.ownsGroup(h)) return nothing();
    if (!groupAlive(h.pid)) {
      if (h.cgroup) releaseCgroup(h.cgroup);
      return nothing();
    }
    await stopGroup(h.pid, opts);
    if (h.cgroup) releaseCgroup(h.cgroup);
    if (!own) return { code: null, signal: null };
    return own.exit ?? (await withTimeout(own.exited, 1000)) ?? { code: null, signal: 'SIGKILL' };
  }

  kill(h: ProcessHandle): void {
    if (this.ownsGroup(h)) signalGroup(h.pid, 'SIGKILL');
    if (h.cgroup) releaseCgroup(h.cgroup);
  }

  async readLogs(
    h: ProcessHandle,
    stream: LogStream,
    offset: number,
    maxBytes = READ_LOGS_MAX,
  ): Promise<LogChunk> {
    return readFrom(h.logs[stream], offset, maxBytes);
  }

  logFiles(h: ProcessHandle): { stdout: string; stderr: string } {
    return { ...h.logs };
  }

  address(h: ProcessHandle): { host: string; ports: Record<string, number> } {
    return { host: '127.0.0.1', ports: { ...h.ports } };
  }

  joinArgv(h: ProcessHandle): string[] {
    return h.cgroup ? cgroupEnterArgv(placementProcs(h.cgroup)) : [];
  }

  private ownChild(h: ProcessHandle): OwnChild | undefined {
    const entry = this.own.get(h.pid);
    return entry && entry.startTime === h.startTime ? entry : undefined;
  }

  /**
   * May we signal group -pid? Yes when the leader is the process in the handle (alive or zombie),
   * or when no process has that pid any more: Linux does not hand out a pid again while a group
   * with that id still has members, so surviving members are ours. No when the pid was reused.
   */
  private ownsGroup(h: ProcessHandle): boolean {
    const st = readProcStat(h.pid);
    return st === null || st.startTime === h.startTime;
  }
}

/**
 * Where a stream goes: appended to a file, or written into a FIFO that a reader of its own consumes (HAProxy's
 * request log, read by its helper edge). A FIFO is opened read-write and non-blocking: opening it for writing
 * alone would block the daemon until a reader exists, and the writer never gets EPIPE while the reader restarts.
 */
function openOutput(file: string): number {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (st?.isFIFO()) return fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  return fs.openSync(file, 'a');
}

/**
 * The handle of a process Berth started before it recorded handles (an upgrade), found by the pid its own
 * socket reported: null when that pid is gone. Its start time is read now, so later checks hold it to this one.
 */
export function processHandleFor(
  id: string,
  pid: number,
  logs: { stdout: string; stderr: string },
  ports: Record<string, number> = {},
): ProcessHandle | null {
  const st = readProcStat(pid);
  if (!isLiveStat(st)) return null;
  return { driver: 'process', id, pid, startTime: st.startTime, logs: { ...logs }, ports: { ...ports } };
}

/** A stored handle checked field by field: whatever a store or a file gave back is untrusted. */
function parseHandle(v: unknown): ProcessHandle | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  const logs = o.logs as Record<string, unknown> | null | undefined;
  const ports = o.ports as Record<string, unknown> | null | undefined;
  if (o.driver !== 'process' || typeof o.id !== 'string') return null;
  if (typeof o.pid !== 'number' || !Number.isInteger(o.pid) || o.pid <= 1) return null;
  if (typeof o.startTime !== 'string' || o.startTime === '') return null;
  if (typeof logs !== 'object' || logs === null) return null;
  if (typeof logs.stdout !== 'string' || typeof logs.stderr !== 'string') return null;
  if (typeof ports !== 'object' || ports === null) return null;
  const portsOut: Record<string, number> = {};
  for (const [k, p] of Object.entries(ports)) {
    if (typeof p !== 'number' || !Number.isInteger(p)) return null;
    portsOut[k] = p;
  }
  const cgroup = parsePlacement(o.cgroup);
  if (cgroup === false) return null;
  return {
    driver: 'process',
    id: o.id,
    pid: o.pid,
    startTime: o.startTime,
    logs: { stdout: logs.stdout, stderr: logs.stderr },
    ports: portsOut,
    ...(cgroup ? { cgroup } : {}),
  };
}

/** A stored cgroup placement: null when absent, false when malformed; only paths under /sys/fs/cgroup. */
function parsePlacement(v: unknown): CgroupPlacement | null | false {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object') return false;
  const o = v as Record<string, unknown>;
  const isPath = (p: unknown): p is string =>
    typeof p === 'string' && p.startsWith('/sys/fs/cgroup/') && !p.includes('..');
  const orNull = (p: unknown) => p === null || isPath(p);
  if (o.version !== 1 && o.version !== 2) return false;
  if (!Array.isArray(o.dirs) || !o.dirs.every(isPath) || !orNull(o.cpuUsageFile) || !orNull(o.oomFile))
    return false;
  return {
    version: o.version,
    dirs: [...o.dirs],
    cpuUsageFile: (o.cpuUsageFile as string | null) ?? null,
    oomFile: (o.oomFile as string | null) ?? null,
  };
}

async function readFrom(file: string, offset: number, maxBytes: number): Promise<LogChunk> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, 'r');
  } catch {
    return { text: '', next: 0 };
  }
  try {
    const size = (await fh.stat()).size;
    const from = offset > size || offset < 0 ? 0 : offset;
    const len = Math.min(size - from, maxBytes);
    const buf = Buffer.alloc(len);
    const { bytesRead } = await fh.read(buf, 0, len, from);
    return { text: buf.subarray(0, bytesRead).toString('utf8'), next: from + bytesRead };
  } finally {
    await fh.close();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | null> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(null), ms);
    p.then((v) => {
      clearTimeout(t);
      resolve(v);
    });
  });
}
