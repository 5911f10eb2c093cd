import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findHaproxy } from '../../src/edge/haproxy/driver.js';
import { processAlive } from '../../src/lib/pid-file.js';
import { BerthHarness } from '../helpers/berth.js';
import { needs } from '../helpers/optional-tools.js';

/** Restarting the daemon with another --edge hands the port over: the old data plane stops, the new one serves. */
describe.skipIf(findHaproxy() === null)(needs('haproxy', 'switching edge drivers').title, () => {
  const berth = new BerthHarness();
  const scope = ['-p', 'sw', '-s', 'web'];
  beforeAll(async () => {
    berth.serverArgs = ['--edge', 'builtin'];
    await berth.start();
    const up = await berth.cli(['up', berth.app('lifecycle', 'web'), ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
  });
  afterAll(async () => {
    await berth.stop();
  });

  const pidIn = (f: string) => Number(fs.readFileSync(path.join(berth.dataDir, 'edge', f), 'utf8'));

  it('builtin → haproxy → builtin keeps the services reachable', async () => {
    const host = berth.hostFor('web', 'sw');
    const builtinPid = pidIn('edge.pid');
    await berth.stopDaemon();
    berth.serverArgs = ['--edge', 'haproxy'];
    await berth.startDaemon();
    expect(processAlive(builtinPid)).toBe(false);
    expect((await berth.get(host)).body).toBe('v1');
    const haproxyPid = pidIn('haproxy/haproxy.pid');

    await berth.stopDaemon();
    berth.serverArgs = ['--edge', 'builtin'];
    await berth.startDaemon();
    expect(processAlive(haproxyPid)).toBe(false);
    expect((await berth.get(host)).body).toBe('v1');
  });
});
