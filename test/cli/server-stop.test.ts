import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processAlive } from '../../src/lib/pid-file.js';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness } from '../helpers/berth.js';

/** Pids of live processes whose command line or working directory is inside dir. */
function processesOf(dir: string): number[] {
  const found: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid || !processAlive(pid)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      let cwd = '';
      try {
        cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
      } catch {
        /* gone, or not ours to read */
      }
      if (cmdline.includes(dir) || cwd.startsWith(dir)) found.push(pid);
    } catch {
      /* exited meanwhile */
    }
  }
  return found;
}

describe('berth server stop [--all]', () => {
  const berth = new BerthHarness();
  const scope = ['-p', 'stopper', '-s', 'web'];
  const host = () => berth.hostFor('web', 'stopper');

  beforeAll(async () => {
    await berth.start();
    const up = await berth.cli(['up', berth.app('env-echo', 'web'), ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('stop stops the server by its pid file; the edge and apps keep serving', async () => {
    const pid = berth.daemon?.pid as number;
    const stop = await berth.cli(['server', 'stop', '--data-dir', berth.dataDir]);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout).toContain(`Stopped the Berth server (pid ${pid}).`);
    expect(processAlive(pid)).toBe(false);
    expect((await berth.get(host())).body).toBe('ok');
    const again = await berth.cli(['server', 'stop', '--data-dir', berth.dataDir]);
    expect(again.stdout).toContain(`No Berth server runs with ${berth.dataDir}.`);
  });

  it('stop --all stops the server, then the edge and every app; no process of the data dir is left', async () => {
    await berth.startDaemon();
    const apps = berth.pids();
    expect(apps.length).toBeGreaterThan(1);
    expect(processesOf(berth.dataDir).length).toBeGreaterThan(0);
    const stop = await berth.cli(['server', 'stop', '--all', '--data-dir', berth.dataDir]);
    expect(stop.code, stop.stderr).toBe(0);
    const lines = stop.stdout.trim().split('\n');
    expect(lines[0]).toBe(`Stopped the Berth server (pid ${berth.daemon?.pid}).`);
    expect(lines[1]).toMatch(/^Stopped the (haproxy|builtin) edge\.$/);
    expect(lines[2]).toMatch(
      /^Stopped 1 app process: replica 0 of web \(stopper, production\) \(pid \d+\)\.$/,
    );
    for (const pid of apps) expect(processAlive(pid), `pid ${pid}`).toBe(false);
    await waitFor('no process of the data dir', () => processesOf(berth.dataDir).length === 0, {
      timeoutMs: 5000,
    });
  });

  it('the next server starts the edge and the app again', async () => {
    await berth.startDaemon();
    await waitFor('the app to answer again', async () => (await berth.get(host())).body === 'ok', {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
  });
});
