/**
 * The host's cgroups as ProcessDriver uses them: found and tried once (a probe cgroup with every limit), then one
 * cgroup per started workload, removed again once its processes are gone. See cgroups.ts for the layouts.
 */
import crypto from 'node:crypto';
import {
  type CgroupLayout,
  type CgroupLimitName,
  type CgroupLimits,
  type CgroupPlacement,
  cgroupName,
  cgroupPlan,
  createCgroup,
  hostCgroups,
  prepareLayout,
  readCpuUsageNs,
  readOomKills,
  removeCgroup,
  sweepCgroups,
} from './cgroups.js';

/** Leftover empty cgroups older than this are removed when a host is opened. */
const SWEEP_AFTER_MS = 60_000;
/** A cgroup still holding processes after its workload's leader exited is tried again this often, this long. */
const RELEASE_RETRY_MS = 1000;
const RELEASE_TRIES = 120;

export type CgroupMode = 'auto' | 'off';

export class CgroupHost {
  private constructor(private readonly layout: CgroupLayout) {}

  /** The host's cgroups, tried with a probe; or why the server cannot use them (one sentence, no final stop). */
  static open(mode: CgroupMode = 'auto'): CgroupHost | { why: string } {
    if (mode === 'off') return { why: 'cgroups are turned off (berth server --cgroups off)' };
    if (process.getuid?.() !== 0)
      return { why: 'the server does not run as root, so it cannot create cgroups' };
    const found = hostCgroups();
    if ('why' in found) return found;
    const probe = cgroupPlan(found, cgroupName('probe', `${process.pid}-${rand()}`), {
      memoryBytes: 64 * 1024 * 1024,
      cpus: 1,
      pids: 64,
    });
    try {
      prepareLayout(found);
      createCgroup(probe);
      removeCgroup(probe.placement);
    } catch (e) {
      const base = Object.values(found.bases)[0];
      return { why: `the server cannot create cgroups in ${base} (${(e as Error).message})` };
    }
    sweepCgroups(found, SWEEP_AFTER_MS);
    return new CgroupHost(found);
  }

  get version(): 1 | 2 {
    return this.layout.version;
  }

  get limits(): readonly CgroupLimitName[] {
    return this.layout.limits;
  }

  /** Makes a fresh cgroup for one start of a workload (a restart gets a new one, with fresh OOM counters). */
  create(workloadId: string, limits: CgroupLimits): { placement: CgroupPlacement; procs: string[] } {
    const plan = cgroupPlan(
      this.layout,
      cgroupName(workloadId, `${Date.now().toString(36)}${rand()}`),
      limits,
    );
    createCgroup(plan);
    return { placement: plan.placement, procs: plan.procs };
  }
}

/** Whether cgroups removed by this process saw an OOM kill, by their first directory (the newest 256). */
const removedOom = new Map<string, boolean>();

/** True when the workload's cgroup counted an OOM kill (also when this process removed it already). */
export function wasOomKilled(p: CgroupPlacement): boolean {
  return readOomKills(p) > 0 || removedOom.get(p.dirs[0] ?? '') === true;
}

/**
 * Removes a workload's cgroup once empty: now, or retried while processes the leader left behind finish dying.
 * Whatever is still there after that is swept at the next server start.
 */
export function releaseCgroup(p: CgroupPlacement): void {
  const key = p.dirs[0] ?? '';
  if (!removedOom.has(key)) {
    removedOom.set(key, readOomKills(p) > 0);
    if (removedOom.size > 256) removedOom.delete(removedOom.keys().next().value as string);
  }
  let tries = 0;
  const attempt = () => {
    if (removeCgroup(p) || ++tries >= RELEASE_TRIES) return;
    setTimeout(attempt, RELEASE_RETRY_MS).unref();
  };
  attempt();
}

export { readCpuUsageNs };

function rand(): string {
  return crypto.randomBytes(3).toString('hex');
}
