import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness } from '../helpers/berth.js';

/**
 * A tenant's app forks without end. Its replica's process limit (pidsLimit, a cgroup's pids.max; Berth's default
 * is 4096) stops it there: the host and the server can still start processes, and stopping the replica takes
 * every process the bomb made.
 */
describe('tenant-fork-bomb: an app that forks without end is held at its process limit', () => {
  const berth = new BerthHarness();
  beforeAll(async () => {
    await berth.start();
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('stops at pidsLimit; the host still forks; the replica and all its processes stop with it', async () => {
    const scope = ['-p', 'bomb', '-s', 'web'];
    expect((await berth.cli(['init', '--name', 'bomb'])).code).toBe(0);
    expect((await berth.cli(['add', '--service', 'web', '-p', 'bomb'])).code).toBe(0);
    expect((await berth.cli(['up', berth.app('limits'), ...scope])).code).toBe(0);
    const [d] = await berth.settledDeployments(scope);
    expect(d.status).toBe('SUCCESS');
    const host = berth.hostFor('web', 'bomb');

    const db = new Database(path.join(berth.dataDir, 'state.db'), { readonly: true });
    const row = db.prepare("SELECT handle_json FROM workloads WHERE owner_kind = 'replica'").get() as {
      handle_json: string;
    };
    db.close();
    const h = JSON.parse(row.handle_json) as { pid: number; cgroup: { dirs: string[] } };
    const pidsDir = h.cgroup.dirs.find((x) => x.includes('/pids/')) as string;
    const current = () => Number(fs.readFileSync(path.join(pidsDir, 'pids.current'), 'utf8'));
    expect(fs.readFileSync(path.join(pidsDir, 'pids.max'), 'utf8').trim()).toBe('64');

    expect((await berth.get(host, '/bomb')).body).toBe('forking');
    await waitFor('the bomb to reach the limit', () => current() >= 60, { timeoutMs: 30_000 });
    const events = () => fs.readFileSync(path.join(pidsDir, 'pids.events'), 'utf8');
    await waitFor('forks refused at the limit', () => /^max [1-9]/m.test(events()), { timeoutMs: 30_000 });
    expect(current()).toBeLessThanOrEqual(64);
    // The replica itself can start nothing more; the host can.
    expect((await berth.get(host, '/spawn')).body).toMatch(/^failed: /);
    await promisify(execFile)('/bin/true');
    expect((await berth.cli(['status', '-p', 'bomb'])).code).toBe(0);

    const down = await berth.cli(['down', '--yes', ...scope]);
    expect(down.code, down.stderr).toBe(0);
    await waitFor(
      'every process of the bomb to be gone',
      () => h.cgroup.dirs.every((x) => !fs.existsSync(x)),
      {
        timeoutMs: 30_000,
      },
    );
  }, 120_000);
});
