import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findHaproxy } from '../../src/edge/haproxy/find.js';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness } from '../helpers/berth.js';

interface StatusAnswer {
  services: { name: string; replicas: number; desiredReplicas?: number; deploymentId: string | null }[];
}

const drivers = findHaproxy() === null ? (['builtin'] as const) : (['builtin', 'haproxy'] as const);

describe.each(drivers)('berth scale (%s edge)', (kind) => {
  const berth = new BerthHarness();
  beforeAll(async () => {
    berth.serverArgs = ['--edge', kind];
    await berth.start();
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('scales 1 → 4 → 1 replicas under load without a redeploy and without one failed request', async () => {
    const scope = ['-p', 'sc', '-s', 'web'];
    expect((await berth.cli(['init', '--name', 'sc'])).code).toBe(0);
    expect((await berth.cli(['add', '--service', 'web', '-p', 'sc'])).code).toBe(0);
    const up = await berth.cli(['up', berth.app('lifecycle', 'web'), ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const [deployment] = await berth.settledDeployments(scope);
    const host = berth.hostFor('web', 'sc');

    // Load: four loops of requests through the edge, some of them slow (in flight while replicas drain).
    const failures: string[] = [];
    const replicasSeen = new Set<string>();
    let requests = 0;
    let loading = true;
    const loop = async (slow: boolean) => {
      while (loading) {
        try {
          const res = await berth.get(host, slow ? '/slow?ms=300' : '/env');
          requests += 1;
          if (res.status !== 200) failures.push(`${res.status} ${res.body.slice(0, 100)}`);
          else if (!slow)
            replicasSeen.add((JSON.parse(res.body) as { RAILWAY_REPLICA_ID: string }).RAILWAY_REPLICA_ID);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    const load = [loop(false), loop(false), loop(true), loop(true)];
    const status = async () =>
      (JSON.parse((await berth.cli(['status', '--json', '-p', 'sc'])).stdout) as StatusAnswer).services[0];

    const up4 = await berth.cli(['scale', '--replicas', '4', '--json', ...scope]);
    expect(up4.code, up4.stderr).toBe(0);
    expect(JSON.parse(up4.stdout)).toEqual({ deploymentId: deployment.id, running: 4, desired: 4 });
    expect(await status()).toMatchObject({ replicas: 4, desiredReplicas: 4, deploymentId: deployment.id });
    await waitFor('all four replicas to answer', () => replicasSeen.size >= 4, { timeoutMs: 20_000 });
    expect((await berth.cli(['status', '-p', 'sc'])).stdout).toMatch(/\b4\/4\b/);

    const down1 = await berth.cli(['scale', '--replicas', '1', '--json', ...scope]);
    expect(down1.code, down1.stderr).toBe(0);
    expect(JSON.parse(down1.stdout)).toEqual({ deploymentId: deployment.id, running: 1, desired: 1 });
    const before = requests;
    await waitFor('more requests on one replica', () => requests > before + 20, { timeoutMs: 20_000 });
    loading = false;
    await Promise.all(load);

    expect(failures).toEqual([]);
    expect(requests).toBeGreaterThan(50);
    expect(await status()).toMatchObject({ replicas: 1, desiredReplicas: 1, deploymentId: deployment.id });
    // no redeploy: still the one deployment
    const list = await berth.settledDeployments(scope);
    expect(list).toHaveLength(1);
    const log = (await berth.cli(['logs', deployment.id, '-n', '1000', ...scope])).stdout;
    expect(log).toContain('Scaling from 1 to 4 replicas: starting replica 1, replica 2, replica 3');
    expect(log).toContain('Scaling from 4 to 1 replicas: draining replica 3, replica 2, replica 1');
  }, 180_000);

  it('refuses to scale a service without an active deployment, in one sentence', async () => {
    expect((await berth.cli(['add', '--service', 'empty', '-p', 'sc'])).code).toBe(0);
    const r = await berth.cli(['scale', '--replicas', '2', '-p', 'sc', '-s', 'empty']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toBe(
      'Error: Service "empty" has no active deployment in production; deploy it before scaling.',
    );
  });
});
