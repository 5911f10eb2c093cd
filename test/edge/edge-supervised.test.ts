import fs from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeProcess } from '../../src/edge/edge-client.js';
import { freePort } from '../../src/lib/net.js';
import { waitFor } from '../../src/lib/wait.js';
import { groupAlive } from '../../src/runtime/proc.js';
import { proxyRoute, RecordingApp } from '../helpers/edges.js';
import { killGroup, makeTmpDir } from '../helpers/tmp.js';

/** The built-in edge as a supervised workload, driven directly: restarted when it dies, not when it is stopped. */
describe('a supervised built-in edge', () => {
  const tmp = makeTmpDir('berth-edge-sup-');
  const stateDir = path.join(tmp.dir, 'edge');
  const app = new RecordingApp();
  let port = 0;
  let edge: EdgeProcess;
  const pids = new Set<number>();
  const get = () =>
    request(`http://127.0.0.1:${port}/x`, { headers: { host: 'web.test' } }).then(async (r) => ({
      status: r.statusCode,
      body: await r.body.text(),
    }));

  beforeAll(async () => {
    await app.start();
    port = await freePort();
    edge = new EdgeProcess({ stateDir, port, host: '127.0.0.1' });
    pids.add(await edge.ensureRunning());
    await edge.apply({ version: 1, routes: [proxyRoute('web.test', app.port)] });
  });
  afterAll(async () => {
    await edge.stop(5000);
    for (const pid of pids) killGroup(pid);
    await app.close();
    tmp.cleanup();
  });

  it('restarts an edge killed with SIGKILL and gives it the table again', async () => {
    const before = edge.pid() as number;
    // Without routes.json the new process starts empty: serving the route proves the table was re-sent.
    fs.rmSync(path.join(stateDir, 'routes.json'));
    killGroup(before);
    const after = await waitFor('a new edge process', () => {
      const pid = edge.pid();
      return pid !== null && pid !== before ? pid : null;
    });
    pids.add(after);
    await waitFor(
      'the route to be served again',
      async () => (await get().catch(() => null))?.body === 'resp:/x',
    );
    expect(JSON.parse(fs.readFileSync(path.join(stateDir, 'edge.handle.json'), 'utf8'))).toMatchObject({
      driver: 'process',
      pid: after,
    });
    expect(fs.readFileSync(path.join(stateDir, 'edge.log'), 'utf8')).toMatch(
      /berth: the edge was killed by SIGKILL; restarting it in 0\.5s/,
    );
  });

  it('does not restart an edge another driver object stopped on purpose', async () => {
    const pid = edge.pid() as number;
    await new EdgeProcess({ stateDir, port: 0 }).stop(5000);
    expect(groupAlive(pid)).toBe(false);
    expect(fs.existsSync(path.join(stateDir, 'edge.handle.json'))).toBe(false);
    // Longer than the first backoff (0.5 s) plus a start: a restart would answer by then.
    await expect(
      waitFor(
        'a restarted edge',
        () =>
          edge.health(200).then(
            () => true,
            () => false,
          ),
        { timeoutMs: 3000 },
      ),
    ).rejects.toThrow(/timed out/);
    expect(edge.pid()).toBeNull();
  });
});
