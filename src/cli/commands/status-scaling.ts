/** `berth status` lines for autoscaled services and services with resource limits. */
import type { ServiceStatus } from '../client.js';
import { formatSize, print } from '../output.js';

export function printScaling(services: ServiceStatus[]): void {
  for (const s of services) {
    const a = s.autoscale;
    if (a)
      print(
        `${s.name}: autoscaling ${a.minReplicas}–${a.maxReplicas} replicas, target ${a.targetCPUPercent} % CPU per replica`,
      );
    const l = s.limits;
    if (!l) continue;
    const parts = [
      l.memoryBytes === null ? null : `memory ${formatSize(l.memoryBytes)}`,
      l.cpus === null ? null : `${l.cpus} CPU`,
      l.pids === null ? null : `${l.pids} processes`,
    ].filter((p) => p !== null);
    const oom =
      l.oomKills > 0
        ? `; OOM-killed ${l.oomKills} time${l.oomKills === 1 ? '' : 's'} at its memory limit`
        : '';
    print(`${s.name}: limits per replica: ${parts.join(', ')}${oom}`);
    if (l.notEnforced) print(`${s.name}: ${l.notEnforced}`);
  }
}
