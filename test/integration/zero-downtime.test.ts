import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness } from '../helpers/berth.js';
import { Load } from '../helpers/load.js';

describe('zero downtime under load', () => {
  const berth = new BerthHarness();
  const scope = ['-p', 'zd', '-s', 'web'];
  let dir: string;
  beforeAll(async () => {
    await berth.start();
    dir = berth.app('lifecycle', 'web');
    const up = await berth.cli(['up', dir, ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('a request in flight on the old version completes across the switch', async () => {
    const host = berth.hostFor('web', 'zd');
    const slow = berth.get(host, '/slow?ms=3000');
    const set = await berth.cli(['variables', 'set', 'VERSION=v2', ...scope]);
    expect(set.code, set.stderr).toBe(0);
    const [latest] = await berth.settledDeployments(scope);
    expect(latest.status).toBe('SUCCESS');
    const res = await slow;
    expect(res.status).toBe(200);
    expect(res.body).toBe('slow v1');
    expect((await berth.get(host)).body).toBe('v2');
  });

  it('zero failed requests during a deploy, a failed deploy and a rollback', async () => {
    const load = new Load(berth.httpPort, berth.hostFor('web', 'zd')).start(4, 2);
    try {
      const ok = await berth.cli(['variables', 'set', 'VERSION=v3', ...scope]);
      expect(ok.code).toBe(0);
      expect((await berth.settledDeployments(scope))[0].status).toBe('SUCCESS');

      const bad = await berth.cli(['variables', 'set', 'HEALTH_STATUS=500', ...scope]);
      expect(bad.code).toBe(0);
      expect((await berth.settledDeployments(scope))[0].status).toBe('FAILED');
      await berth.cli(['variables', 'delete', 'HEALTH_STATUS', '--skip-deploys', ...scope]);

      const rb = await berth.cli(['rollback', ...scope]);
      expect(rb.code, rb.stdout + rb.stderr).toBe(0);
    } finally {
      await load.stop();
    }
    expect(load.failures).toEqual([]);
    expect(load.ok).toBeGreaterThan(200);
    expect((await berth.get(berth.hostFor('web', 'zd'))).body).toBe('v2');
  });
});
