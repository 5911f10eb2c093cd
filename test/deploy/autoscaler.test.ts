import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { defaultServiceConfig } from '../../src/core/config/index.js';
import type { Deployment, ServiceConfig } from '../../src/core/model.js';
import {
  Autoscaler,
  type CpuSample,
  decideScale,
  describeDecision,
  policyOf,
  type ScalePolicy,
  startingReplicas,
} from '../../src/deploy/autoscaler.js';
import { DeploymentLogs } from '../../src/deploy/deployment-log.js';
import { waitFor } from '../../src/lib/wait.js';
import { ProcessDriver } from '../../src/runtime/index.js';
import { tempStores } from '../helpers/store.js';
import { makeTmpDir } from '../helpers/tmp.js';

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

  it('a new deployment starts with as many replicas as the one it replaces runs, within its range', () => {
    const deploy = { ...defaultServiceConfig().deploy, numReplicas: 1, minReplicas: 1, maxReplicas: 4 };
    expect(startingReplicas(deploy, 3)).toBe(3);
    expect(startingReplicas(deploy, 6)).toBe(4);
    expect(startingReplicas({ ...deploy, minReplicas: 2 }, 1)).toBe(2);
    expect(startingReplicas(deploy, null)).toBe(1);
    // Without autoscaling, numReplicas is what it asks for, whatever ran before.
    expect(startingReplicas({ ...defaultServiceConfig().deploy, numReplicas: 2 }, 5)).toBe(2);
  });
});

/** Rounds of the real Autoscaler over a real store, with replicas run by the real ProcessDriver. */
describe('Autoscaler rounds', () => {
  const newStore = tempStores();
  const stops: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
  });

  function setup() {
    const store = newStore();
    const tmp = makeTmpDir('berth-autoscaler-');
    stops.push(async () => tmp.cleanup());
    const driver = new ProcessDriver();
    const calls: [string, number, number][] = [];
    const autoscaler = new Autoscaler({
      store,
      driver,
      logs: new DeploymentLogs((id) => path.join(tmp.dir, 'logs', `${id}.ndjson`)),
      logger: pino({ level: 'silent' }),
      scale: async (d, from, to) => {
        calls.push([d.id, from, to]);
      },
      sampleMs: 100,
    });
    const { project, environments } = store.projects.create('shop');
    const environmentId = environments[0].id;
    /** A SUCCESS deployment of service `name` with these deploy settings, made active. */
    const deploy = (name: string, settings: Partial<ServiceConfig['deploy']>) => {
      const service = store.services.find(project, name) ?? store.services.create(project, name);
      const d = store.deployments.create({
        serviceId: service.id,
        environmentId,
        kind: 'up',
        message: null,
        sourcePath: tmp.dir,
        sourceDeploymentId: null,
        status: 'SUCCESS',
      });
      const config = defaultServiceConfig();
      config.deploy = { ...config.deploy, ...settings };
      store.deployments.setConfig(d.id, { config, origins: {}, warnings: [] });
      store.deployments.setActive(service.id, environmentId, d.id);
      return d;
    };
    /** A running replica of d: a real process group, recorded as the supervisor records one. */
    const replica = async (d: Deployment, command: string) => {
      const w = store.workloads.create({
        ownerKind: 'replica',
        ownerId: d.id,
        slot: 0,
        ports: {},
        state: 'running',
      });
      const h = await driver.start({
        id: w.id,
        cwd: tmp.dir,
        command,
        env: { PATH: process.env.PATH ?? '' },
        logs: { stdout: path.join(tmp.dir, `${w.id}.out`), stderr: path.join(tmp.dir, `${w.id}.err`) },
      });
      stops.push(() => driver.stop(h, { graceMs: 0 }));
      store.workloads.update(w.id, { handle: h });
    };
    return { store, autoscaler, calls, deploy, replica };
  }

  it('a deploy that turns autoscaling on is picked up by the very next round', async () => {
    const { autoscaler, calls, deploy } = setup();
    deploy('web', {});
    await autoscaler.tick();
    expect(calls).toEqual([]);
    // minReplicas 2 with 1 replica: a round that sees the deployment scales it at once.
    const on = deploy('web', { maxReplicas: 3, minReplicas: 2, numReplicas: 1 });
    await autoscaler.tick();
    expect(calls).toEqual([[on.id, 1, 2]]);
    deploy('web', { numReplicas: 1 });
    await autoscaler.tick();
    expect(calls).toEqual([[on.id, 1, 2]]);
  });

  it("reads every due deployment's replicas in one /proc scan, each sample from its own replicas", async () => {
    const { autoscaler, calls, deploy, replica } = setup();
    const policy = { maxReplicas: 2, minReplicas: 1, targetCPUPercent: 50, scaleUpWindowSeconds: 1 };
    const idle = deploy('idle', policy);
    const busy = deploy('busy', policy);
    const idle2 = deploy('idle2', policy);
    await replica(idle, 'sleep 60');
    await replica(busy, `exec node -e 'const end = Date.now() + 60000; while (Date.now() < end) {}'`);
    await replica(idle2, 'sleep 60');
    const readdir = vi.spyOn(fs, 'readdirSync');
    const scans = () => readdir.mock.calls.filter(([dir]) => dir === '/proc').length;
    try {
      // All three are due in the first round: one scan, not one per replica.
      await autoscaler.tick();
      expect(scans()).toBe(1);
      // Rounds until the busy one (a whole core against a 50 % target) gets a second replica; the idle ones never.
      let rounds = 1;
      await waitFor(
        'the busy deployment to scale up',
        async () => {
          await autoscaler.tick();
          rounds++;
          return calls.length > 0;
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      expect(calls).toEqual([[busy.id, 1, 2]]);
      expect(scans()).toBeLessThanOrEqual(rounds);
    } finally {
      readdir.mockRestore();
    }
  });
});
