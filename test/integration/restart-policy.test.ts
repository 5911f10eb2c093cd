import fs from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness } from '../helpers/berth.js';

interface Replica {
  state: string;
  restarts: number;
  pid: number | null;
}

/** Replicas that exit after becoming healthy, under each restart policy. */
describe('restart policy per replica', () => {
  const berth = new BerthHarness();
  beforeAll(async () => {
    await berth.start();
    await berth.cli(['init', '--name', 'rp']);
  });
  afterAll(async () => {
    await berth.stop();
  });

  async function deploy(service: string, policy: string, exitCode: number, maxRetries = 2) {
    const dir = berth.app('lifecycle', service);
    const toml = fs
      .readFileSync(path.join(dir, 'railway.toml'), 'utf8')
      .replace('"ON_FAILURE"', `"${policy}"`)
      .replace('restartPolicyMaxRetries = 2', `restartPolicyMaxRetries = ${maxRetries}`);
    fs.writeFileSync(path.join(dir, 'railway.toml'), toml);
    const scope = ['-p', 'rp', '-s', service];
    await berth.cli(['add', '--service', service, '-p', 'rp']);
    const set = await berth.cli([
      'variables',
      'set',
      'EXIT_AFTER_MS=1500',
      `EXIT_CODE=${exitCode}`,
      '--skip-deploys',
      ...scope,
    ]);
    expect(set.code, set.stderr).toBe(0);
    const up = await berth.cli(['up', dir, ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const [d] = await berth.settledDeployments(scope);
    return { id: d.id, scope };
  }

  async function deployment(id: string): Promise<{ status: string; reason: string; replicas: Replica[] }> {
    const res = await request(`${berth.url}/v1/deployments/${id}`, {
      headers: { authorization: `Bearer ${berth.token}` },
    });
    return (await res.body.json()) as { status: string; reason: string; replicas: Replica[] };
  }

  it('ON_FAILURE restarts non-zero exits, then CRASHED after restartPolicyMaxRetries', async () => {
    const { id } = await deploy('onfail', 'ON_FAILURE', 1);
    const d = await waitFor(
      'CRASHED',
      async () => ((await deployment(id)).status === 'CRASHED' ? deployment(id) : null),
      {
        timeoutMs: 30_000,
        intervalMs: 200,
      },
    );
    expect(d.replicas[0].restarts).toBe(2);
    expect(d.reason).toMatch(
      /replica 0 exited with code 1 and was restarted 2 times \(restartPolicyMaxRetries = 2\)/,
    );
    // no healthy replica left: the edge answers 503 right away instead of hanging
    const res = await berth.get(berth.hostFor('onfail', 'rp'));
    expect(res.status).toBe(503);
  });

  it('ON_FAILURE does not restart a clean exit', async () => {
    const { id } = await deploy('onfail-clean', 'ON_FAILURE', 0);
    await waitFor('the replica to exit', async () => (await deployment(id)).replicas[0].state === 'exited', {
      timeoutMs: 15_000,
    });
    const d = await deployment(id);
    expect(d.status).toBe('SUCCESS');
    expect(d.replicas[0].restarts).toBe(0);
  });

  it('ALWAYS restarts clean exits too', async () => {
    const { id } = await deploy('always', 'ALWAYS', 0, 5);
    const d = await waitFor(
      'a restart',
      async () => {
        const dd = await deployment(id);
        return dd.replicas[0].restarts >= 1 && dd.replicas[0].state === 'running' ? dd : null;
      },
      { timeoutMs: 15_000 },
    );
    expect(d.status).toBe('SUCCESS');
  });

  it('NEVER leaves a failed replica down and marks the deployment CRASHED', async () => {
    const { id } = await deploy('never', 'NEVER', 3);
    const d = await waitFor(
      'CRASHED',
      async () => ((await deployment(id)).status === 'CRASHED' ? deployment(id) : null),
      {
        timeoutMs: 15_000,
      },
    );
    expect(d.replicas[0].restarts).toBe(0);
    expect(d.reason).toContain('exited with code 3');
  });
});
