import fs from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness } from '../helpers/berth.js';

describe('disk retention of builds and sources', () => {
  const berth = new BerthHarness();
  const scope = ['-p', 'keep', '-s', 'web'];
  beforeAll(async () => {
    berth.serverArgs = ['--keep-deployments', '2'];
    await berth.start();
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('keeps the newest builds, prunes older ones, and says so when rolling back to a pruned one', async () => {
    const dir = berth.app('lifecycle', 'web');
    for (let i = 0; i < 4; i++) {
      const up = await berth.cli(['up', dir, ...scope]);
      expect(up.code, up.stdout + up.stderr).toBe(0);
    }
    const list = await berth.settledDeployments(scope);
    expect(list).toHaveLength(4);
    const artifact = (id: string) => fs.existsSync(path.join(berth.dataDir, 'artifacts', id));
    const source = (id: string) => fs.existsSync(path.join(berth.dataDir, 'sources', `${id}.tar.gz`));
    expect(list.map((d) => artifact(d.id))).toEqual([true, true, false, false]);
    expect(list.map((d) => source(d.id))).toEqual([true, true, false, false]);
    // the replicas' raw output files of pruned deployments go too (their lines are in the deployment log)
    const outputs = async (id: string) => {
      const res = await request(`${berth.url}/v1/deployments/${id}`, {
        headers: { authorization: `Bearer ${berth.token}` },
      });
      const { replicas } = (await res.body.json()) as { replicas: { id: string }[] };
      expect(replicas.length).toBeGreaterThan(0);
      return replicas.some((r) => fs.existsSync(path.join(berth.dataDir, 'instances', `${r.id}.out.log`)));
    };
    expect(await outputs(list[0].id)).toBe(true);
    expect(await outputs(list[3].id)).toBe(false);
    // history stays readable
    expect((await berth.cli(['logs', list[3].id, '--build', ...scope])).stdout).not.toBe('');
    const rb = await berth.cli(['rollback', list[3].id, ...scope]);
    expect(rb.code).toBe(1);
    expect(rb.stderr).toContain('was pruned');
    // the previous build is still there, so the default rollback works
    const ok = await berth.cli(['rollback', ...scope]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
  });

  it('prunes dependency installs no build used for --cache-days when it starts', async () => {
    await berth.stopDaemon();
    const modules = path.join(berth.dataDir, 'cache', 'node_modules');
    const install = (hash: string, daysAgo: number) => {
      const entry = path.join(modules, hash);
      fs.mkdirSync(path.join(entry, 'node_modules', 'left-pad'), { recursive: true });
      const t = new Date(Date.now() - daysAgo * 86_400_000);
      fs.utimesSync(entry, t, t);
    };
    install('a'.repeat(32), 15); // older than the default 14 days
    install('b'.repeat(32), 13);
    await berth.startDaemon();
    // logged once the removal is complete
    await waitFor('the unused install to be pruned', () =>
      berth.serverLog().includes('pruned unused dependency installs'),
    );
    expect(fs.readdirSync(modules)).toEqual(['b'.repeat(32)]);
  });
});
