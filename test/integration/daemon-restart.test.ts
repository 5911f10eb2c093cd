import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness } from '../helpers/berth.js';
import { killGroup } from '../helpers/tmp.js';

/** The data plane must not depend on the control plane: kill -9 the daemon, traffic flows on. */
describe('kill -9 of berth server', () => {
  const berth = new BerthHarness();
  const scope = ['-p', 'kd', '-s', 'web'];
  beforeAll(async () => {
    await berth.start();
    const up = await berth.cli(['up', berth.app('lifecycle', 'web'), ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
  });
  afterAll(async () => {
    await berth.stop();
  });

  const replicaPids = async () => {
    const st = JSON.parse((await berth.cli(['status', '--json', '-p', 'kd'])).stdout);
    const res = await request(`${berth.url}/v1/deployments/${st.services[0].deploymentId}`, {
      headers: { authorization: `Bearer ${berth.token}` },
    });
    const d = (await res.body.json()) as { replicas: { pid: number; state: string }[] };
    return d.replicas.filter((r) => r.state === 'running').map((r) => r.pid);
  };

  it('keeps serving while the daemon is dead and a new daemon re-adopts the replicas', async () => {
    const host = berth.hostFor('web', 'kd');
    const before = await replicaPids();
    expect(before).toHaveLength(1);
    await berth.killDaemon();
    for (let i = 0; i < 50; i++) {
      const res = await berth.get(host);
      expect(res.status).toBe(200);
    }
    // a replica dying while nobody supervises is restarted by the next daemon
    killGroup(before[0]);
    await berth.startDaemon();
    const after = await waitFor(
      'the replica to be restarted',
      async () => {
        const pids = await replicaPids();
        return pids.length === 1 && pids[0] !== before[0] ? pids : null;
      },
      { timeoutMs: 20_000 },
    );
    expect(after[0]).not.toBe(before[0]);
    await waitFor(
      'traffic to reach the restarted replica',
      async () => (await berth.get(host)).body === 'v1',
    );

    // and the re-adopted service still deploys normally
    const set = await berth.cli(['variables', 'set', 'VERSION=v2', ...scope]);
    expect(set.code).toBe(0);
    expect((await berth.settledDeployments(scope))[0].status).toBe('SUCCESS');
    expect((await berth.get(host)).body).toBe('v2');
  });

  it('re-adopts live replicas without restarting them', async () => {
    const before = await replicaPids();
    await berth.killDaemon();
    await berth.startDaemon();
    expect(await replicaPids()).toEqual(before);
    expect((await berth.get(berth.hostFor('web', 'kd'))).body).toBe('v2');
  });
});
