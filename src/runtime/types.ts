import type { CgroupPlacement } from './cgroups.js';
import type { WorkloadHandle } from './driver.js';

export type { ExitInfo } from './driver.js';

/** ProcessDriver's handle: enough to find a live process again after `berth server` restarts. Plain JSON. */
export interface ProcessHandle extends WorkloadHandle {
  readonly driver: 'process';
  pid: number;
  /** Field 22 of /proc/<pid>/stat: distinguishes our process from a later one reusing the pid. */
  startTime: string;
  logs: { stdout: string; stderr: string };
  ports: Record<string, number>;
  /** Its cgroup when it was started with memory, CPU or process limits (cgroup-host.ts); absent otherwise. */
  cgroup?: CgroupPlacement;
}
