import { describe, expect, it } from 'vitest';
import { defaultServiceConfig } from '../../src/core/config/index.js';
import {
  type CpuSample,
  decideScale,
  describeDecision,
  policyOf,
  type ScalePolicy,
} from '../../src/deploy/autoscaler.js';

const policy: ScalePolicy = { min: 1, max: 4, targetPercent: 70, upWindowMs: 60_000, downWindowMs: 300_000 };

/** One sample a second over the last `seconds`, at `percent`. */
function steady(now: number, seconds: number, percent: number): CpuSample[] {
  return Array.from({ length: seconds }, (_, i) => ({
    at: now - (seconds - 1 - i) * 1000,
    spanMs: 1000,
    percent,
  }));
}

describe('autoscaling decisions', () => {
  const now = 1_000_000;

  it('adds one replica once CPU per replica stayed above target for the whole scale-up window', () => {
    expect(decideScale(policy, 2, steady(now, 50, 143), now)).toBeNull(); // not (90 % of) a whole window yet
    const d = decideScale(policy, 2, steady(now, 60, 143), now);
    expect(d).toEqual({ from: 2, to: 3, percent: 143, windowMs: 60_000 });
    expect(describeDecision(d as NonNullable<typeof d>, policy)).toBe(
      'Autoscaling: cpu 143 % per replica (target 70 %) over 60 s: 2 → 3 replicas',
    );
    expect(decideScale(policy, 4, steady(now, 60, 143), now)).toBeNull(); // at maxReplicas
  });

  it('a short spike inside the window is averaged, not acted on', () => {
    const samples = [...steady(now - 10_000, 50, 30), ...steady(now, 10, 200)];
    expect(decideScale(policy, 2, samples, now)).toBeNull();
  });

  it('removes one only when the replicas left would stay well below target for the whole scale-down window', () => {
    expect(decideScale(policy, 3, steady(now, 300, 45), now)).toBeNull(); // 45 × 3/2 = 67.5: not below 90 % of 70
    expect(decideScale(policy, 3, steady(now, 300, 30), now)).toEqual({
      from: 3,
      to: 2,
      percent: 30,
      windowMs: 300_000,
    });
    expect(decideScale(policy, 3, steady(now, 200, 1), now)).toBeNull();
    expect(decideScale(policy, 1, steady(now, 300, 0), now)).toBeNull(); // at minReplicas
  });

  it('brings a count outside the range back into it at once', () => {
    expect(decideScale({ ...policy, min: 2 }, 1, [], now)).toEqual({
      from: 1,
      to: 2,
      percent: 0,
      windowMs: 0,
    });
    expect(decideScale(policy, 6, [], now)).toEqual({ from: 6, to: 4, percent: 0, windowMs: 0 });
  });

  it('a deployment autoscales when its config has maxReplicas (not a cron service, not a singleton)', () => {
    const deploy = defaultServiceConfig().deploy;
    expect(policyOf(deploy)).toBeNull();
    expect(policyOf({ ...deploy, maxReplicas: 3, minReplicas: 1, targetCPUPercent: 50 })).toEqual({
      min: 1,
      max: 3,
      targetPercent: 50,
      upWindowMs: 60_000,
      downWindowMs: 300_000,
    });
    expect(policyOf({ ...deploy, maxReplicas: 3, cronSchedule: '* * * * *' })).toBeNull();
  });
});
