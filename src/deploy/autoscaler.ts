/**
 * Autoscaling (Berth extension: `[deploy] minReplicas`, `maxReplicas`, `targetCPUPercent`): samples the CPU time
 * of an active deployment's replicas and asks `berth scale`'s machinery for one more or one fewer when CPU per
 * replica stayed above target (or well below it) for a whole window. Decisions are pure (decideScale).
 */
import type { Logger } from 'pino';
import { DEFAULT_TARGET_CPU_PERCENT } from '../core/config/scaling.js';
import type { Deployment, ServiceConfig } from '../core/model.js';
import { Poller } from '../lib/poller.js';
import type { RuntimeDriver, WorkloadHandle } from '../runtime/driver.js';
import type { Store } from '../store/store.js';
import type { StoredWorkload } from '../store/workloads.js';
import type { DeploymentLogs } from './deployment-log.js';

/** Scale down only when the replicas left would stay below this share of the target: no flapping at the edge. */
const DOWN_HEADROOM = 0.9;

export interface ScalePolicy {
  min: number;
  max: number;
  targetPercent: number;
  upWindowMs: number;
  downWindowMs: number;
}

/** One measurement: CPU per serving replica over (at - spanMs, at], as a percentage of its budget. */
export interface CpuSample {
  at: number;
  spanMs: number;
  percent: number;
}

export interface ScaleDecision {
  from: number;
  to: number;
  /** Mean CPU per replica over the window (%). */
  percent: number;
  windowMs: number;
}

/** The policy of a deployment's config, or null when it does not autoscale. */
export function policyOf(deploy: ServiceConfig['deploy']): ScalePolicy | null {
  if (deploy.maxReplicas == null || deploy.cronSchedule || deploy.singleton) return null;
  return {
    min: deploy.minReplicas ?? 1,
    max: deploy.maxReplicas,
    targetPercent: deploy.targetCPUPercent ?? DEFAULT_TARGET_CPU_PERCENT,
    upWindowMs: (deploy.scaleUpWindowSeconds ?? 60) * 1000,
    downWindowMs: (deploy.scaleDownWindowSeconds ?? 300) * 1000,
  };
}

/**
 * How many replicas a new deployment starts with: with autoscaling, as many as the deployment it replaces runs
 * now (the autoscaler's last decision, or a `berth scale`), within the new config's range — a deploy under load
 * must not drop back to numReplicas; otherwise, or without a predecessor, numReplicas (in range).
 */
export function startingReplicas(deploy: ServiceConfig['deploy'], previous: number | null): number {
  const policy = policyOf(deploy);
  if (!policy) return deploy.numReplicas;
  return Math.min(policy.max, Math.max(policy.min, previous ?? deploy.numReplicas));
}

/** Mean CPU over the last windowMs (each sample weighted by its overlap with it), or null when not covered yet. */
function windowMean(samples: readonly CpuSample[], now: number, windowMs: number): number | null {
  const start = now - windowMs;
  let covered = 0;
  let sum = 0;
  for (const s of samples) {
    const overlap = Math.min(s.spanMs, s.at - start);
    if (overlap <= 0) continue;
    covered += overlap;
    sum += s.percent * overlap;
  }
  // Sampling jitter: a window is covered when 90 % of it is measured.
  return covered < windowMs * 0.9 ? null : sum / covered;
}

/**
 * Whether to change `replicas`: +1 when CPU per replica stayed above target over the whole scale-up window, −1
 * when the replicas left would stay below 90 % of target over the whole scale-down window. `samples` only hold
 * measurements since the last change, so each window is also that change's cooldown. Outside [min, max]: back in.
 */
export function decideScale(
  policy: ScalePolicy,
  replicas: number,
  samples: readonly CpuSample[],
  now: number,
): ScaleDecision | null {
  if (replicas < policy.min) return { from: replicas, to: policy.min, percent: 0, windowMs: 0 };
  if (replicas > policy.max) return { from: replicas, to: policy.max, percent: 0, windowMs: 0 };
  const up = windowMean(samples, now, policy.upWindowMs);
  if (up !== null && up > policy.targetPercent && replicas < policy.max)
    return { from: replicas, to: replicas + 1, percent: up, windowMs: policy.upWindowMs };
  const down = windowMean(samples, now, policy.downWindowMs);
  if (
    down !== null &&
    replicas > policy.min &&
    (down * replicas) / (replicas - 1) < policy.targetPercent * DOWN_HEADROOM
  )
    return { from: replicas, to: replicas - 1, percent: down, windowMs: policy.downWindowMs };
  return null;
}

/** The deployment log's (and the daemon log's) line for a decision. */
export function describeDecision(d: ScaleDecision, policy: ScalePolicy): string {
  if (d.windowMs === 0)
    return `Autoscaling: ${d.from} replicas is outside minReplicas–maxReplicas (${policy.min}–${policy.max}): ${d.from} → ${d.to} replicas`;
  return `Autoscaling: cpu ${Math.round(d.percent)} % per replica (target ${policy.targetPercent} %) over ${Math.round(d.windowMs / 1000)} s: ${d.from} → ${d.to} replicas`;
}

export interface AutoscalerDeps {
  store: Store;
  driver: RuntimeDriver;
  logs: DeploymentLogs;
  logger: Logger;
  /** Scales the deployment from `from` to `to` replicas (in its service's queue; nothing when it no longer has
   * `from`, e.g. `berth scale` went first); rejects when it cannot. */
  scale: (d: Deployment, from: number, to: number) => Promise<void>;
  /** How often CPU is read at most (tests: shorter). */
  sampleMs?: number;
}

/** How often the autoscaled deployments are looked at; each is sampled at its own pace (1–5 s). */
const ROUND_MS = 500;

interface Tracked {
  samples: CpuSample[];
  /** Cumulative CPU ns per workload (by handle) at the last reading. */
  last: Map<string, number>;
  lastAt: number;
  busy: boolean;
  nextAt: number;
}

/** A deployment sampled this round, with the replicas whose CPU time is read for it. */
interface Due {
  d: Deployment;
  policy: ScalePolicy;
  t: Tracked;
  running: StoredWorkload[];
}

/** Samples every autoscaled active deployment and scales it; one timer for all of them. */
export class Autoscaler {
  private readonly tracked = new Map<string, Tracked>();
  private readonly poller: Poller;

  constructor(private readonly deps: AutoscalerDeps) {
    this.poller = new Poller({
      everyMs: ROUND_MS,
      round: () => this.round(),
      onError: (err) => deps.logger.warn({ err }, 'autoscaling round failed'),
    });
  }

  start(): void {
    this.poller.start();
  }

  close(): void {
    this.poller.stop();
  }

  /** One round now (the timer's; tests call it). */
  tick(): Promise<void> {
    return this.poller.tick();
  }

  /** A deployment's count changed by hand (`berth scale`): its windows start again. */
  reset(deploymentId: string): void {
    this.tracked.delete(deploymentId);
  }

  /**
   * Only active deployments that set maxReplicas are listed (in SQL), so a round with none costs one small query;
   * the deployments due for a sample have all their replicas' CPU read in one driver call.
   */
  private round(): void {
    const now = Date.now();
    const autoscaled = new Set<string>();
    const due: Due[] = [];
    for (const d of this.deps.store.deployments.listActiveAutoscaled()) {
      const policy = d.config ? policyOf(d.config.deploy) : null;
      if (!policy || d.status !== 'SUCCESS') continue;
      autoscaled.add(d.id);
      try {
        const x = this.dueOf(d, policy, now);
        if (x) due.push(x);
      } catch (err) {
        this.deps.logger.warn({ err, deployment: d.id }, 'autoscaling sample failed');
      }
    }
    for (const id of this.tracked.keys()) if (!autoscaled.has(id)) this.tracked.delete(id);
    if (due.length === 0) return;
    const readings = this.deps.driver.cpuUsageNs(
      due.flatMap((x) => x.running.map((w) => w.handle as WorkloadHandle)),
    );
    let at = 0;
    for (const x of due) {
      const ns = readings.slice(at, at + x.running.length);
      at += x.running.length;
      try {
        this.sample(x, ns, now);
      } catch (err) {
        this.deps.logger.warn({ err, deployment: x.d.id }, 'autoscaling sample failed');
      }
    }
  }

  /** The deployment's replicas to read when a sample of it is due now, else null. */
  private dueOf(d: Deployment, policy: ScalePolicy, now: number): Due | null {
    let t = this.tracked.get(d.id);
    if (!t) {
      t = { samples: [], last: new Map(), lastAt: now, busy: false, nextAt: now };
      this.tracked.set(d.id, t);
    }
    if (t.busy || now < t.nextAt) return null;
    const sampleMs =
      this.deps.sampleMs ??
      Math.min(5000, Math.max(1000, Math.min(policy.upWindowMs, policy.downWindowMs) / 10));
    t.nextAt = now + sampleMs;
    const running = this.deps.store.workloads
      .ofDeployment(d.id)
      .filter((w) => w.ownerKind === 'replica' && w.state === 'running' && w.handle);
    return { d, policy, t, running };
  }

  /** One sample from `ns` (each running replica's CPU time, in order), then maybe a decision. */
  private sample({ d, policy, t, running }: Due, ns: readonly (number | null)[], now: number): void {
    const readings = new Map<string, number>();
    let used = 0;
    let counted = 0;
    running.forEach((w, i) => {
      const reading = ns[i];
      if (reading == null) return;
      const key = `${w.id}:${JSON.stringify(w.handle)}`;
      readings.set(key, reading);
      const before = t.last.get(key);
      if (before === undefined) return;
      used += Math.max(0, reading - before);
      counted += 1;
    });
    const spanMs = now - t.lastAt;
    const complete = counted === running.length && counted > 0 && t.last.size > 0;
    t.last = readings;
    t.lastAt = now;
    const budget = d.config?.deploy.cpuLimit ?? 1;
    // A reading that misses a replica (one restarting) would undercount: it is left out, not averaged in.
    if (complete && spanMs > 0) {
      t.samples.push({ at: now, spanMs, percent: (100 * used) / (spanMs * 1e6) / counted / budget });
      const keepMs = Math.max(policy.upWindowMs, policy.downWindowMs) * 2;
      t.samples = t.samples.filter((s) => s.at > now - keepMs);
    }
    const desired = d.config?.deploy.numReplicas ?? running.length;
    const decision = decideScale(policy, desired, t.samples, now);
    if (decision) this.act(d, policy, decision, t);
  }

  private act(d: Deployment, policy: ScalePolicy, decision: ScaleDecision, t: Tracked): void {
    const line = describeDecision(decision, policy);
    this.deps.logs.log(d.id, 'deploy', 'system', line);
    this.deps.logger.info({ deployment: d.id, ...decision }, line);
    t.busy = true;
    this.deps
      .scale(d, decision.from, decision.to)
      .catch((err: Error) => {
        this.deps.logs.log(
          d.id,
          'deploy',
          'system',
          `Autoscaling to ${decision.to} replicas failed: ${err.message}`,
          {
            level: 'warn',
          },
        );
      })
      .finally(() => {
        // Windows restart after a change (or a failed one): the count is measured afresh (the cooldown).
        this.tracked.set(d.id, { samples: [], last: new Map(), lastAt: Date.now(), busy: false, nextAt: 0 });
      });
  }
}
