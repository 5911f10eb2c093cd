import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness } from '../helpers/berth.js';

interface StatusAnswer {
  services: {
    name: string;
    replicas: number;
    desiredReplicas?: number;
    autoscale?: { minReplicas: number; maxReplicas: number; targetCPUPercent: number };
  }[];
}

/**
 * A CPU-bound API (test/fixtures/apps/cpu-burner: minReplicas 1, maxReplicas 2, target 15 %, windows of 3 s up
 * and 4 s down) under real load through the edge: it gets a second replica, and loses it once the load stops.
 */
describe('autoscaling by CPU', () => {
  const berth = new BerthHarness();
  beforeAll(async () => {
    await berth.start();
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('adds a replica under a CPU-bound load and removes it after, each decision logged with its figures', async () => {
    const scope = ['-p', 'auto', '-s', 'api'];
    expect((await berth.cli(['init', '--name', 'auto'])).code).toBe(0);
    expect((await berth.cli(['add', '--service', 'api', '-p', 'auto'])).code).toBe(0);
    const up = await berth.cli(['up', berth.app('cpu-burner'), ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const [d] = await berth.settledDeployments(scope);
    expect(d.status).toBe('SUCCESS');
    const host = berth.hostFor('api', 'auto');
    const status = async () =>
      (JSON.parse((await berth.cli(['status', '--json', '-p', 'auto'])).stdout) as StatusAnswer).services[0];
    const logs = async () => (await berth.cli(['logs', d.id, '-n', '2000', ...scope])).stdout;

    expect(await status()).toMatchObject({
      replicas: 1,
      desiredReplicas: 1,
      autoscale: { minReplicas: 1, maxReplicas: 2, targetCPUPercent: 15 },
    });
    expect((await berth.cli(['status', '-p', 'auto'])).stdout).toContain(
      'api: autoscaling 1–2 replicas, target 15 % CPU per replica',
    );

    // Load: four loops of requests that each keep a replica's CPU busy for 200 ms: one replica is never idle.
    let loading = true;
    const failures: string[] = [];
    const seen = new Set<string>();
    const loop = async () => {
      while (loading) {
        const res = await berth
          .get(host, '/burn?ms=200')
          .catch((err: Error) => ({ status: 0, body: err.message }));
        if (res.status !== 200) failures.push(`${res.status} ${res.body.slice(0, 80)}`);
        else seen.add(res.body);
      }
    };
    const load = [loop(), loop(), loop(), loop()];
    try {
      await waitFor('a second replica', async () => (await status()).replicas === 2, { timeoutMs: 30_000 });
      await waitFor('both replicas to take requests', () => seen.size === 2, { timeoutMs: 20_000 });
    } finally {
      loading = false;
      await Promise.all(load);
    }
    expect(failures).toEqual([]);
    expect(await logs()).toMatch(
      /Autoscaling: cpu \d+ % per replica \(target 15 %\) over 3 s: 1 → 2 replicas/,
    );

    await waitFor('back to one replica', async () => (await status()).desiredReplicas === 1, {
      timeoutMs: 60_000,
    });
    await waitFor('the second replica drained', async () => (await status()).replicas === 1, {
      timeoutMs: 30_000,
    });
    const log = await logs();
    expect(log).toMatch(/Autoscaling: cpu \d+ % per replica \(target 15 %\) over 4 s: 2 → 1 replicas/);
    expect(log).toContain('Scaling from 2 to 1 replicas: draining replica 1');
    // Still the one deployment: no redeploy.
    expect(await berth.settledDeployments(scope)).toHaveLength(1);
  }, 180_000);

  it('berth scale on an autoscaled service sets its floor, and refuses more than maxReplicas in one sentence', async () => {
    const scope = ['-p', 'auto', '-s', 'api'];
    const over = await berth.cli(['scale', '--replicas', '3', ...scope]);
    expect(over.code).not.toBe(0);
    expect(over.stderr.trim()).toBe(
      'Error: Service "api" autoscales between 1 and 2 replicas; ask for 2 or fewer, or raise deploy.maxReplicas and redeploy.',
    );
    const two = await berth.cli(['scale', '--replicas', '2', '--json', ...scope]);
    expect(two.code, two.stderr).toBe(0);
    expect(JSON.parse(two.stdout)).toMatchObject({ running: 2, desired: 2 });
    const s = JSON.parse((await berth.cli(['status', '--json', '-p', 'auto'])).stdout) as StatusAnswer;
    expect(s.services[0].autoscale).toEqual({ minReplicas: 2, maxReplicas: 2, targetCPUPercent: 15 });
  }, 60_000);

  it('a redeploy of an autoscaled service starts with as many replicas as it runs, not numReplicas', async () => {
    const scope = ['-p', 'auto', '-s', 'api'];
    // Two run now (the test before scaled to 2); the config says numReplicas 1.
    const r = await berth.cli(['redeploy', '-y', ...scope]);
    expect(r.code, r.stderr).toBe(0);
    const [d] = await berth.settledDeployments(scope);
    expect(d.status).toBe('SUCCESS');
    const log = (await berth.cli(['logs', d.id, '-n', '2000', ...scope])).stdout;
    expect(log).toContain(
      'Autoscaling: starting 2 replicas, as many as the deployment this one replaces runs (deploy.numReplicas is 1), within minReplicas–maxReplicas',
    );
    expect(log).toContain('Starting 2 replicas');
  }, 60_000);
});
