import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/lib/wait.js';
import { groupAlive } from '../../src/runtime/proc.js';
import { BerthHarness } from '../helpers/berth.js';
import { EDGE_KINDS } from '../helpers/edges.js';
import { killGroup } from '../helpers/tmp.js';

/**
 * The edge's own processes are supervised workloads: one that dies while the daemon runs (kill -9, an OOM kill)
 * is started again by policy and gets the current routing table, so traffic returns without an operator.
 */
describe.each(EDGE_KINDS)('%s edge', (kind) => {
  const berth = new BerthHarness();
  const [app, site] = [
    ['-p', 'er', '-s', 'web'],
    ['-p', 'er', '-s', 'www'],
  ];
  beforeAll(async () => {
    berth.serverArgs = ['--edge', kind];
    await berth.start();
    for (const [dir, scope] of [
      [berth.app('lifecycle', 'web'), app],
      [berth.app('static-site'), site],
    ] as const) {
      const up = await berth.cli(['up', dir, ...scope]);
      expect(up.code, up.stdout + up.stderr).toBe(0);
    }
  });
  afterAll(async () => {
    await berth.stop();
  });

  const pidIn = (f: string): number | null => {
    try {
      return Number(fs.readFileSync(path.join(berth.dataDir, 'edge', f), 'utf8'));
    } catch {
      return null;
    }
  };
  /** Both routes answer as before: the app through a replica, the static site from the edge (HAProxy's helper). */
  const servesBoth = async () => {
    const [a, s] = await Promise.all([
      berth.get(berth.hostFor('web', 'er')).catch(() => null),
      berth.get(berth.hostFor('www', 'er'), '/about.html').catch(() => null),
    ]);
    return a?.body === 'v1' && s?.status === 200;
  };
  /** Kills the process group named by the pid file, waits until a new process wrote it and traffic is back. */
  const crashAndRecover = async (pidFile: string) => {
    const before = pidIn(pidFile);
    expect(before).not.toBeNull();
    killGroup(before as number);
    await waitFor('the crashed edge process to be gone', () => !groupAlive(before as number));
    const after = await waitFor(
      'the edge process to be started again',
      () => {
        const pid = pidIn(pidFile);
        return pid !== null && pid !== before && groupAlive(pid) ? pid : null;
      },
      { timeoutMs: 20_000 },
    );
    await waitFor('the restarted edge to serve the same routes', servesBoth, { timeoutMs: 20_000 });
    return after;
  };
  const files = kind === 'builtin' ? ['edge.pid'] : ['haproxy/haproxy.pid', 'haproxy/static/edge.pid'];

  it('an edge that crashes is restarted and serves the same routes again', async () => {
    expect(await servesBoth()).toBe(true);
    for (const f of files) await crashAndRecover(f);
    expect(berth.serverLog()).toMatch(/restarting it in/);
  });

  it('an edge adopted by a restarted daemon is restarted when it crashes, and never started twice', async () => {
    const before = files.map(pidIn);
    await berth.killDaemon();
    await berth.startDaemon();
    expect(files.map(pidIn)).toEqual(before);
    for (const f of files) await crashAndRecover(f);
    // a deploy after the restart reaches the restarted edge
    expect((await berth.cli(['variables', 'set', 'VERSION=v2', ...app])).code).toBe(0);
    expect((await berth.settledDeployments(app))[0].status).toBe('SUCCESS');
    expect((await berth.get(berth.hostFor('web', 'er'))).body).toBe('v2');
  });
});
