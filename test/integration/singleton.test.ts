import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness, type DeploymentRow } from '../helpers/berth.js';

/** Each instance's first and last heartbeat (ms), from every deployment's runtime log. */
async function heartbeats(berth: BerthHarness, ids: string[], scope: string[]) {
  const spans = new Map<string, { from: number; to: number }>();
  for (const id of ids) {
    const out = (await berth.cli(['logs', id, '-n', '100000', ...scope])).stdout;
    for (const m of out.matchAll(/hb (\S+) (\d+)/g)) {
      const t = Number(m[2]);
      const s = spans.get(m[1]) ?? { from: t, to: t };
      spans.set(m[1], { from: Math.min(s.from, t), to: Math.max(s.to, t) });
    }
  }
  return [...spans.entries()].map(([id, s]) => ({ id, ...s })).sort((a, b) => a.from - b.from);
}

describe('singleton services', () => {
  const berth = new BerthHarness();
  beforeAll(async () => {
    await berth.start();
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('never runs two instances at once across 10 back-to-back redeploys, rollbacks and restarts', async () => {
    const scope = ['-p', 'sg', '-s', 'scheduler'];
    expect((await berth.cli(['init', '--name', 'sg'])).code).toBe(0);
    expect((await berth.cli(['add', '--service', 'scheduler', '-p', 'sg'])).code).toBe(0);
    const up = await berth.cli(['up', berth.app('singleton-scheduler'), ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const [first] = await berth.settledDeployments(scope);
    expect(first.status).toBe('SUCCESS');
    // Queued rollbacks name their target: the newest successful one is still deploying.
    const verbs = [
      ['redeploy', '-d'],
      ['redeploy', '-d'],
      ['rollback', first.id, '-d'],
      ['restart', '-d'],
      ['redeploy', '-d'],
      ['rollback', first.id, '-d'],
      ['restart', '-d'],
      ['redeploy', '-d'],
      ['rollback', first.id, '-d'],
      ['redeploy', '-d'],
    ];
    // Back to back: each is queued while the previous one is still deploying.
    for (const verb of verbs) {
      const r = await berth.cli([...verb, ...scope]);
      expect(r.code, `${verb[0]}: ${r.stderr}`).toBe(0);
    }
    const list: DeploymentRow[] = await waitFor(
      'every deployment to finish and the last one to serve',
      async () => {
        const l = await berth.settledDeployments(scope, 120_000);
        const busy = l.some((d) => ['QUEUED', 'BUILDING', 'DEPLOYING'].includes(d.status));
        return !busy && l.length === verbs.length + 1 ? l : null;
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    expect(list.filter((d) => d.status === 'FAILED')).toEqual([]);
    expect(list[0].status).toBe('SUCCESS');
    // the last instance beats for a while on its own before the logs are read
    const spans = await waitFor('the last instance to beat', async () => {
      const s = await heartbeats(berth, [list[0].id], scope);
      return s.length === 1 && s[0].to - s[0].from > 500 ? s : null;
    });
    expect(spans).toHaveLength(1);

    const all = await heartbeats(
      berth,
      list.map((d) => d.id),
      scope,
    );
    // one instance per deployment (restarts and rollbacks start a new one too), none overlapping another
    expect(all.length).toBe(verbs.length + 1);
    for (let i = 1; i < all.length; i++) {
      expect(all[i].from, `${all[i].id} started before ${all[i - 1].id} stopped beating`).toBeGreaterThan(
        all[i - 1].to,
      );
    }
    const log = (await berth.cli(['logs', list[0].id, '-n', '100000', ...scope])).stdout;
    expect(log).toMatch(/Singleton \(deploy\.singleton is true\): stopping deployment \S+ first/);
  }, 300_000);

  it('a daemon killed during a singleton handover leaves one instance after it restarts', async () => {
    const scope = ['-p', 'sg2', '-s', 'scheduler'];
    expect((await berth.cli(['init', '--name', 'sg2'])).code).toBe(0);
    expect((await berth.cli(['add', '--service', 'scheduler', '-p', 'sg2'])).code).toBe(0);
    const app = berth.app('singleton-scheduler', 'sg2');
    // A longer stability window keeps the new instance unconfirmed long enough to kill the daemon then.
    const toml = path.join(app, 'railway.toml');
    fs.writeFileSync(
      toml,
      fs.readFileSync(toml, 'utf8').replace('workerStabilitySeconds = 1', 'workerStabilitySeconds = 6'),
    );
    expect((await berth.cli(['up', app, ...scope])).code).toBe(0);
    const [serving] = await berth.settledDeployments(scope);
    const r = await berth.cli(['redeploy', '-d', ...scope]);
    expect(r.code, r.stderr).toBe(0);
    const [next] = JSON.parse(
      (await berth.cli(['deployments', '--json', ...scope])).stdout,
    ) as DeploymentRow[];
    await waitFor(
      'the handover to stop the serving instance',
      async () =>
        (await berth.cli(['logs', next.id, ...scope])).stdout.includes('has stopped; starting the new'),
      { timeoutMs: 60_000, intervalMs: 20 },
    );
    await berth.killDaemon();
    await berth.startDaemon();
    const list = await berth.settledDeployments(scope);
    const ids = list.slice(0, 2).map((d) => d.id);
    expect(list[0]).toMatchObject({ id: next.id, status: 'FAILED' });
    expect(list[1].id).toBe(serving.id);
    // the interrupted deployment's instance was stopped, then the serving one started again: one instance beats,
    // never alongside another
    const spans = await waitFor(
      'an instance to beat after the restart',
      async () => {
        const s = await heartbeats(berth, ids, scope);
        const last = s[s.length - 1];
        return last && Date.now() - last.to < 1000 && last.to - last.from > 1000 ? s : null;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    for (let i = 1; i < spans.length; i++) expect(spans[i].from).toBeGreaterThan(spans[i - 1].to);
    const live = spans.filter((sp) => Date.now() - sp.to < 1000);
    expect(live).toHaveLength(1);
    const servingLog = (await berth.cli(['logs', serving.id, ...scope])).stdout;
    expect(servingLog).toContain(
      `Berth server stopped during singleton deployment ${next.id}; starting this one again`,
    );
  }, 120_000);
});
