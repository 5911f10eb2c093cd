import fs from 'node:fs';

/** The few fields of /proc/<pid>/stat that the driver needs. */
export interface ProcStat {
  /** Field 3: R, S, D, Z (zombie), X (dead), ... */
  state: string;
  /** Field 5: process group id. */
  pgrp: number;
  /** Field 22: start time in clock ticks since boot, kept as the raw string. */
  startTime: string;
}

/**
 * Parses /proc/<pid>/stat. The command name (field 2) is in parentheses and may itself contain
 * spaces and ')', so fields are counted from the last ')'.
 */
export function readProcStat(pid: number): ProcStat | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  let raw: string;
  try {
    raw = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  return parseProcStat(raw);
}

export function parseProcStat(raw: string): ProcStat | null {
  const close = raw.lastIndexOf(')');
  if (close < 0) return null;
  // After ") " come fields 3, 4, 5, ...: index i here is field i + 3.
  const rest = raw
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const state = rest[0];
  const pgrp = Number(rest[2]);
  const startTime = rest[19];
  if (!state || !Number.isInteger(pgrp) || !startTime) return null;
  return { state, pgrp, startTime };
}

/** Field 22 of /proc/<pid>/stat (start time since boot), or null when there is no such process. */
export function readProcStartTime(pid: number): string | null {
  return readProcStat(pid)?.startTime ?? null;
}

function isGone(state: string): boolean {
  return state === 'Z' || state === 'X' || state === 'x';
}

/**
 * True when a process group led (now or once) by pgid still has a member that is not a zombie.
 * Zombies count for kill(2) but not here: a reparented app whose new parent never reaps it
 * stays a zombie forever.
 */
export function groupAlive(pgid: number): boolean {
  if (!isSafePid(pgid)) return false;
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: the group exists; fall through to the scan.
  }
  // Fast path: a live leader still in its group (the common case while stopping).
  const leader = readProcStat(pgid);
  if (leader && leader.pgrp === pgid && !isGone(leader.state)) return true;
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return true;
  }
  for (const name of entries) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const st = readProcStat(Number(name));
    if (st && st.pgrp === pgid && !isGone(st.state)) return true;
  }
  return false;
}

/** A pid we may ever signal as a group: kill(-1) and kill(-0) would hit far more than one app. */
export function isSafePid(pid: number): boolean {
  return Number.isInteger(pid) && pid > 1;
}

/**
 * Sends sig to the process group pgid; if there is no such group but the leader itself lives
 * (it moved to another group), to the leader. Never throws.
 */
export function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  if (!isSafePid(pgid)) return;
  try {
    process.kill(-pgid, sig);
    return;
  } catch {
    /* no such group: try the leader alone */
  }
  try {
    process.kill(pgid, sig);
  } catch {
    /* already gone */
  }
}

/** True for a live (non-zombie) process with this pid and state. */
export function isLiveStat(st: ProcStat | null): st is ProcStat {
  return st !== null && !isGone(st.state);
}

/** Clock ticks per second of /proc's time fields (USER_HZ: 100 on every Linux Berth runs on). */
const USER_HZ = 100;

/**
 * CPU ticks (user + system, with reaped children's) of the live members of each process group in `pgids`,
 * summed over these /proc/<pid>/stat texts. A group with no live member is absent. Pure: the scan is apart.
 */
export function cpuTicksByGroup(stats: Iterable<string>, pgids: ReadonlySet<number>): Map<number, number> {
  const ticks = new Map<number, number>();
  for (const raw of stats) {
    const rest = raw
      .slice(raw.lastIndexOf(')') + 1)
      .trim()
      .split(/\s+/);
    const pgrp = Number(rest[2]);
    if (!pgids.has(pgrp) || isGone(rest[0] ?? 'X')) continue;
    let t = ticks.get(pgrp) ?? 0;
    // Fields 14-17: utime, stime, cutime, cstime.
    for (let i = 11; i <= 14; i++) t += Number(rest[i]) || 0;
    ticks.set(pgrp, t);
  }
  return ticks;
}

/** Every process's /proc/<pid>/stat text (those that end while read are skipped). */
function* procStats(): Generator<string> {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return;
  }
  for (const name of entries) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    try {
      yield fs.readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      /* ended meanwhile */
    }
  }
}

/**
 * CPU time in ns of each process group in pgids (how busy a workload without a cgroup is), from one scan of
 * /proc for all of them; a group with no live member is absent. Time of members that ended and were not
 * reaped by a member is lost, so it can go down.
 */
export function groupsCpuNs(pgids: readonly number[]): Map<number, number> {
  const wanted = new Set(pgids.filter(isSafePid));
  const ns = new Map<number, number>();
  if (wanted.size === 0) return ns;
  for (const [pgid, ticks] of cpuTicksByGroup(procStats(), wanted)) ns.set(pgid, (ticks * 1e9) / USER_HZ);
  return ns;
}
