/**
 * Memory, CPU and process-count limits for one workload through Linux cgroups, v1 (a hierarchy per controller)
 * or v2 (one unified hierarchy) behind one small interface. Everything but the few fs functions at the end is pure.
 */
import fs from 'node:fs';
import path from 'node:path';

/** The limits cgroups enforce (ResourceLimits' cgroup half). */
export interface CgroupLimits {
  /** Memory the whole workload may use; beyond it the kernel's OOM killer ends a process of it. */
  memoryBytes?: number;
  /** CPUs' worth of time per period (0.5 = half a core), enforced by CFS bandwidth control. */
  cpus?: number;
  /** Processes and threads at once (a fork bomb stops here). */
  pids?: number;
}
export type CgroupLimitName = keyof CgroupLimits;

type Controller = 'memory' | 'cpu' | 'cpuacct' | 'pids';

/** Where Berth makes workload cgroups on this host, found by detectCgroups. */
export interface CgroupLayout {
  version: 1 | 2;
  /** The directory workload cgroups are made in, per controller (v2: the same one for all). */
  bases: Partial<Record<Controller, string>>;
  /** What this layout can enforce. */
  limits: CgroupLimitName[];
  /** v2 only: cgroup.subtree_control files that must enable the controllers, parent first. */
  delegate: string[];
}

/** Where one workload's cgroup is (plain JSON: it lives in the driver's handle). */
export interface CgroupPlacement {
  version: 1 | 2;
  /** Every directory made for it (v1: one per hierarchy). */
  dirs: string[];
  /** v1 cpuacct.usage (ns), v2 cpu.stat (usage_usec); null when unknown. */
  cpuUsageFile: string | null;
  /** v1 memory.oom_control, v2 memory.events: both have an `oom_kill N` line. */
  oomFile: string | null;
}

/** What making one workload's cgroup takes: directories, limit files, the files its pid goes into. */
export interface CgroupPlan {
  placement: CgroupPlacement;
  /** In order; `optional` ones may be missing on a host (swap accounting off) without failing. */
  writes: { file: string; value: string; optional?: boolean }[];
  /** The cgroup.procs files the workload writes its own pid into before it runs anything. */
  procs: string[];
}

/** CFS period: 100 ms, the kernel's default. */
export const CPU_PERIOD_US = 100_000;

/** The cgroup (v1) or cgroup2 mounts of /proc/self/mountinfo: mount point, root, super options. */
function mountsOf(mountinfo: string): { point: string; root: string; type: string; options: string[] }[] {
  const out: { point: string; root: string; type: string; options: string[] }[] = [];
  for (const line of mountinfo.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const fields = pre.split(' ');
    const [type, , superOptions] = post.split(' ');
    if (type !== 'cgroup' && type !== 'cgroup2') continue;
    out.push({
      point: unescapeMount(fields[4] ?? ''),
      root: unescapeMount(fields[3] ?? '/'),
      type,
      options: (superOptions ?? '').split(','),
    });
  }
  return out;
}

/** mountinfo escapes spaces and the like as \040. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** /proc/self/cgroup: hierarchy controllers ("memory", "cpu,cpuacct", "" for v2) → this process's path. */
function ownPaths(selfCgroup: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of selfCgroup.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line.trim());
    if (m) out.set(m[1], m[2]);
  }
  return out;
}

/** dir of this process's cgroup in a hierarchy mounted at `point` (whose root is `root`). */
function ownDir(point: string, root: string, own: string): string {
  const rel = root !== '/' && own.startsWith(root) ? own.slice(root.length) : own;
  return path.join(point, rel);
}

const V1_LIMITS: [CgroupLimitName, Controller][] = [
  ['memoryBytes', 'memory'],
  ['cpus', 'cpu'],
  ['pids', 'pids'],
];

/**
 * Where workload cgroups go, from /proc/self/mountinfo, /proc/self/cgroup and (v2) the controllers the daemon's
 * parent offers: a v2 hierarchy with controllers wins, else v1 hierarchies. Workload cgroups sit in `berth/`
 * under the daemon's own cgroup (v1) so the limits of whatever runs the daemon still apply to them; v2 lets only
 * leaves hold processes, so there `berth/` is a sibling of the daemon's cgroup (at the root: a child).
 * Returns why not when there is no usable layout.
 */
export function detectCgroups(
  mountinfo: string,
  selfCgroup: string,
  v2Controllers: (dir: string) => string | null,
): CgroupLayout | { why: string } {
  const mounts = mountsOf(mountinfo);
  const own = ownPaths(selfCgroup);
  const v2 = mounts.find((m) => m.type === 'cgroup2');
  if (v2) {
    const self = own.get('') ?? '/';
    const parent = self === '/' ? '/' : path.posix.dirname(self);
    const parentDir = ownDir(v2.point, v2.root, parent);
    const offered = (v2Controllers(parentDir) ?? '').split(/\s+/);
    const limits = V1_LIMITS.filter(([, c]) => offered.includes(c)).map(([l]) => l);
    if (limits.length > 0) {
      const base = path.join(parentDir, 'berth');
      const enable = path.join(parentDir, 'cgroup.subtree_control');
      return {
        version: 2,
        bases: { memory: base, cpu: base, cpuacct: base, pids: base },
        limits,
        delegate: [enable, path.join(base, 'cgroup.subtree_control')],
      };
    }
  }
  const bases: Partial<Record<Controller, string>> = {};
  for (const m of mounts.filter((x) => x.type === 'cgroup')) {
    const hierarchy = [...own.keys()].find(
      (k) => k.split(',').some((c) => m.options.includes(c)) && k !== '',
    );
    for (const c of ['memory', 'cpu', 'cpuacct', 'pids'] as Controller[]) {
      if (!m.options.includes(c) || bases[c]) continue;
      bases[c] = path.join(ownDir(m.point, m.root, hierarchy ? (own.get(hierarchy) ?? '/') : '/'), 'berth');
    }
  }
  const limits = V1_LIMITS.filter(([, c]) => bases[c]).map(([l]) => l);
  if (limits.length === 0) {
    return {
      why: v2
        ? 'the cgroup v2 hierarchy offers no memory, cpu or pids controller and no cgroup v1 controller is mounted'
        : 'no cgroup hierarchy (v1 or v2) is mounted',
    };
  }
  return { version: 1, bases, limits, delegate: [] };
}

/** A cgroup name from a workload id: only characters every cgroupfs takes. */
export function cgroupName(workloadId: string, unique: string): string {
  return `${workloadId}-${unique}`.replace(/[^A-Za-z0-9_.-]/g, '_');
}

/** The directories, limit files and pid files of one workload's cgroup (only the limits asked for are set). */
export function cgroupPlan(layout: CgroupLayout, name: string, limits: CgroupLimits): CgroupPlan {
  const dirOf = (c: Controller) => (layout.bases[c] ? path.join(layout.bases[c] as string, name) : null);
  const writes: CgroupPlan['writes'] = [];
  const quota = limits.cpus === undefined ? null : Math.max(1000, Math.round(limits.cpus * CPU_PERIOD_US));
  if (layout.version === 2) {
    const dir = dirOf('memory') as string;
    const f = (n: string) => path.join(dir, n);
    if (limits.memoryBytes !== undefined) {
      writes.push({ file: f('memory.max'), value: String(limits.memoryBytes) });
      // Without this the limit only pushes the workload into swap.
      writes.push({ file: f('memory.swap.max'), value: '0', optional: true });
    }
    if (quota !== null) writes.push({ file: f('cpu.max'), value: `${quota} ${CPU_PERIOD_US}` });
    if (limits.pids !== undefined) writes.push({ file: f('pids.max'), value: String(limits.pids) });
    return {
      placement: { version: 2, dirs: [dir], cpuUsageFile: f('cpu.stat'), oomFile: f('memory.events') },
      writes,
      procs: [f('cgroup.procs')],
    };
  }
  const dirs: string[] = [];
  for (const c of ['memory', 'cpu', 'cpuacct', 'pids'] as Controller[]) {
    const d = dirOf(c);
    if (d && !dirs.includes(d)) dirs.push(d);
  }
  const mem = dirOf('memory');
  const cpu = dirOf('cpu');
  const pids = dirOf('pids');
  const acct = dirOf('cpuacct');
  if (limits.memoryBytes !== undefined && mem) {
    writes.push({ file: path.join(mem, 'memory.limit_in_bytes'), value: String(limits.memoryBytes) });
    // memory+swap, after memory (it may never be below it); absent where swap accounting is off.
    writes.push({
      file: path.join(mem, 'memory.memsw.limit_in_bytes'),
      value: String(limits.memoryBytes),
      optional: true,
    });
  }
  if (quota !== null && cpu) {
    writes.push({ file: path.join(cpu, 'cpu.cfs_period_us'), value: String(CPU_PERIOD_US) });
    writes.push({ file: path.join(cpu, 'cpu.cfs_quota_us'), value: String(quota) });
  }
  if (limits.pids !== undefined && pids)
    writes.push({ file: path.join(pids, 'pids.max'), value: String(limits.pids) });
  return {
    placement: {
      version: 1,
      dirs,
      cpuUsageFile: acct ? path.join(acct, 'cpuacct.usage') : null,
      oomFile: mem ? path.join(mem, 'memory.oom_control') : null,
    },
    writes,
    procs: dirs.map((d) => path.join(d, 'cgroup.procs')),
  };
}

/** The cgroup.procs files of a workload's cgroup, from its placement (a later process joins it through them). */
export function placementProcs(p: CgroupPlacement): string[] {
  return p.dirs.map((d) => path.join(d, 'cgroup.procs'));
}

/**
 * A fixed script (never built from input) that writes its own pid into each cgroup.procs file named before `--`,
 * then execs what follows: the process is inside its cgroups before any of the user's code runs, and exec keeps
 * its pid and start time. A failed write stops it with 125 before anything runs.
 */
export const CGROUP_ENTER_SCRIPT =
  'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"';

export function cgroupEnterArgv(procs: readonly string[]): string[] {
  return ['/bin/sh', '-c', CGROUP_ENTER_SCRIPT, 'berth-cgroup-enter', ...procs, '--'];
}

/** `oom_kill N` of memory.oom_control (v1) or memory.events (v2); 0 when absent. */
export function parseOomKills(text: string): number {
  const m = /^oom_kill (\d+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** CPU time in ns from cpuacct.usage (v1, ns) or cpu.stat (v2, usage_usec); null when unreadable. */
export function parseCpuUsageNs(file: string, text: string): number | null {
  if (file.endsWith('cpu.stat')) {
    const m = /^usage_usec (\d+)$/m.exec(text);
    return m ? Number(m[1]) * 1000 : null;
  }
  const n = Number(text.trim());
  return text.trim() !== '' && Number.isFinite(n) ? n : null;
}

// --- The filesystem side -------------------------------------------------------------------------------------

/** The host's layout, or why there is none (read from /proc and the cgroup filesystems). */
export function hostCgroups(): CgroupLayout | { why: string } {
  let mountinfo = '';
  let self = '';
  try {
    mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8');
    self = fs.readFileSync('/proc/self/cgroup', 'utf8');
  } catch (e) {
    return { why: `/proc is unreadable (${(e as Error).message})` };
  }
  return detectCgroups(mountinfo, self, (dir) => {
    try {
      return fs.readFileSync(path.join(dir, 'cgroup.controllers'), 'utf8');
    } catch {
      return null;
    }
  });
}

/** Makes the workload's cgroup and sets its limits; on failure removes what it made and throws. */
export function createCgroup(plan: CgroupPlan): void {
  try {
    for (const d of plan.placement.dirs) fs.mkdirSync(d, { recursive: true });
    for (const w of plan.writes) {
      if (w.optional && !fs.existsSync(w.file)) continue;
      fs.writeFileSync(w.file, w.value);
    }
  } catch (e) {
    removeCgroup(plan.placement);
    throw e;
  }
}

/** Makes the layout's base directories (and, v2, enables its controllers); throws when the host refuses. */
export function prepareLayout(layout: CgroupLayout): void {
  for (const b of new Set(Object.values(layout.bases))) fs.mkdirSync(b, { recursive: true });
  const controllers = layout.limits.map((l) =>
    l === 'memoryBytes' ? 'memory' : l === 'cpus' ? 'cpu' : 'pids',
  );
  for (const f of layout.delegate) fs.writeFileSync(f, controllers.map((c) => `+${c}`).join(' '));
}

/** Removes a workload's cgroup once no process is left in it; true when nothing of it is left. */
export function removeCgroup(p: CgroupPlacement): boolean {
  let gone = true;
  for (const d of p.dirs) {
    try {
      fs.rmdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') gone = false;
    }
  }
  return gone;
}

export function readOomKills(p: CgroupPlacement): number {
  if (!p.oomFile) return 0;
  try {
    return parseOomKills(fs.readFileSync(p.oomFile, 'utf8'));
  } catch {
    return 0;
  }
}

export function readCpuUsageNs(p: CgroupPlacement): number | null {
  if (!p.cpuUsageFile) return null;
  try {
    return parseCpuUsageNs(p.cpuUsageFile, fs.readFileSync(p.cpuUsageFile, 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Removes workload cgroups nobody removed (their daemon was killed): empty ones made more than `olderThanMs` ago,
 * so one another daemon has just made, whose process is about to enter it, is left alone.
 */
export function sweepCgroups(layout: CgroupLayout, olderThanMs: number): number {
  let removed = 0;
  const cutoff = Date.now() - olderThanMs;
  for (const base of new Set(Object.values(layout.bases))) {
    let names: string[] = [];
    try {
      names = fs
        .readdirSync(base, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      continue;
    }
    for (const n of names) {
      const dir = path.join(base, n);
      try {
        if (fs.statSync(dir).mtimeMs > cutoff) continue;
        if (fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').trim() !== '') continue;
        fs.rmdirSync(dir);
        removed += 1;
      } catch {
        /* busy, or already gone */
      }
    }
  }
  return removed;
}
