import { NotFoundError } from '../core/errors.js';
import type { Instance, InstanceState } from '../core/model.js';
import type { OwnerKind, StoredWorkload, Workloads } from './workloads.js';

/** A deployment's replica or cron run: the model's Instance plus its driver handle and how far its logs were read. */
export type StoredInstance = Instance & { handle: unknown; stdoutOffset: number; stderrOffset: number };

export type InstancePatch = Partial<{
  /** The runtime driver's handle (JSON); null once the process is gone. */
  handle: unknown;
  port: number;
  state: InstanceState;
  restarts: number;
  exitCode: number | null;
  stdoutOffset: number;
  stderrOffset: number;
}>;

const KINDS: readonly OwnerKind[] = ['replica', 'cron-run'];

/** The pid and start time a ProcessDriver handle names (shown in the API), null for other handles. */
function processOf(handle: unknown): { pid: number | null; pidStartTime: string | null } {
  const h = handle as { pid?: unknown; startTime?: unknown } | null;
  return {
    pid: typeof h?.pid === 'number' ? h.pid : null,
    pidStartTime: typeof h?.startTime === 'string' ? h.startTime : null,
  };
}

export function toInstance(w: StoredWorkload): StoredInstance {
  return {
    id: w.id,
    deploymentId: w.ownerId,
    replica: w.slot,
    ...processOf(w.handle),
    port: w.ports.http ?? 0,
    state: w.state,
    restarts: w.restarts,
    exitCode: w.exitCode,
    createdAt: w.createdAt,
    updatedAt: w.updatedAt,
    handle: w.handle,
    stdoutOffset: w.stdoutOffset,
    stderrOffset: w.stderrOffset,
  };
}

/** A deployment's replicas and cron runs: its workloads of kind 'replica' and 'cron-run' (store/workloads.ts). */
export class Instances {
  constructor(private readonly workloads: Workloads) {}

  create(deploymentId: string, replica: number, port: number, kind: OwnerKind = 'replica'): StoredInstance {
    const w = this.workloads.create({
      ownerKind: kind,
      ownerId: deploymentId,
      slot: replica,
      ports: { http: port },
      state: 'starting',
    });
    return toInstance(w);
  }

  find(id: string): StoredInstance | null {
    const w = this.workloads.find(id);
    return w && KINDS.includes(w.ownerKind) ? toInstance(w) : null;
  }

  get(id: string): StoredInstance {
    const instance = this.find(id);
    if (!instance) throw new NotFoundError(`Instance ${id} does not exist.`);
    return instance;
  }

  /** A deployment's replicas (and cron runs), by replica number. */
  of(deploymentId: string): StoredInstance[] {
    return this.workloads.of(KINDS, deploymentId).map(toInstance);
  }

  /** Instances that may still have a live process. */
  live(): StoredInstance[] {
    return this.workloads.live(KINDS).map(toInstance);
  }

  update(id: string, patch: InstancePatch): void {
    const { port, ...rest } = patch;
    this.workloads.update(id, port === undefined ? rest : { ...rest, ports: { http: port } });
  }

  /** The instances of an environment's deployments, before those deployments are deleted. */
  deleteOfEnvironment(environmentId: string): void {
    this.workloads.deleteOfEnvironmentDeployments(environmentId);
  }

  /** The instances of a service's deployments, before those deployments are deleted. */
  deleteOfService(serviceId: string): void {
    this.workloads.deleteOfServiceDeployments(serviceId);
  }
}
