/** A data service's engine under restart policy ALWAYS: the supervisor's RestartPlan, kept in its workload row. */
import type { Logger } from 'pino';
import type { RestartPlan } from '../runtime/supervisor.js';
import type { WorkloadPatch, Workloads } from '../store/workloads.js';
import { type EngineLogFiles, noteInEngineLog } from './engine-log.js';

/** A restart loop found that Berth started or stopped the engine meanwhile. */
export class Superseded extends Error {
  constructor() {
    super('superseded by a start or stop of Berth');
  }
}

/**
 * Restarts with the supervisor's backoff for as long as `current()` (this run is still Berth's latest and the
 * data service exists); once it is not, the loop touches neither the row nor the engine. Berth's lines about
 * the engine go to its log too.
 */
export function alwaysRestartPlan(o: {
  name: string;
  workloads: Workloads;
  workloadId: string;
  logger: Logger;
  logFiles: EngineLogFiles;
  current: () => boolean;
  respawn: () => Promise<void>;
  gate: () => Promise<void>;
}): RestartPlan {
  const { workloads, workloadId, current } = o;
  const update = (patch: WorkloadPatch) => {
    if (current()) workloads.update(workloadId, patch);
  };
  return {
    name: o.name,
    policy: { type: 'ALWAYS', maxRetries: Number.MAX_SAFE_INTEGER },
    restarts: workloads.get(workloadId).restarts,
    down: async (exit, restarts) => update({ state: 'exited', handle: null, exitCode: exit.code, restarts }),
    restarting: (restarts) => update({ state: 'restarting', restarts }),
    wanted: () => current() && workloads.find(workloadId)?.state === 'restarting',
    respawn: o.respawn,
    gate: o.gate,
    healthy: async () => update({ state: 'running' }),
    settled: (failed) => {
      if (failed) update({ state: 'crashed' });
    },
    log: (level, message) => {
      if (!current()) return;
      o.logger[level](message);
      noteInEngineLog(o.logFiles, message);
    },
    isReportable: (err) => !(err instanceof Superseded),
  };
}
