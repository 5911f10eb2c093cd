import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness } from '../helpers/berth.js';
import { needs } from '../helpers/optional-tools.js';
import { groupPids } from '../helpers/probe-app.js';

/**
 * Attack: the edge faces the internet; a bug that discloses its memory or environment (or a helper that reads
 * /proc/<edge>/environ) must not yield the master key. Edge processes are spawned with PATH, locale and the
 * allocator's variables only, not the daemon's environment.
 */
for (const edge of ['builtin', 'haproxy'] as const) {
  const suite =
    edge === 'haproxy'
      ? needs('haproxy', `attack: read the master key from the ${edge} edge's environment`)
      : { skip: false, title: `attack: read the master key from the ${edge} edge's environment` };
  describe.skipIf(suite.skip)(suite.title, () => {
    const berth = new BerthHarness();
    const masterKey = randomBytes(32).toString('base64');
    const token = `tok-${randomBytes(12).toString('hex')}`;

    beforeAll(async () => {
      berth.serverArgs = ['--edge', edge];
      berth.daemonEnv = { BERTH_MASTER_KEY: masterKey, BERTH_TOKEN: token };
      await berth.start();
      // A static site, so the HAProxy edge's helper edge serves something too.
      const up = await berth.cli(['up', berth.app('static-site'), '-p', 'pub', '-s', 'site']);
      expect(up.code, up.stdout + up.stderr).toBe(0);
    });
    afterAll(async () => {
      await berth.stop();
    });

    it('no edge process has BERTH_MASTER_KEY, BERTH_TOKEN or their values', () => {
      const files = edge === 'builtin' ? ['edge.pid'] : ['haproxy/haproxy.pid', 'haproxy/static/edge.pid'];
      const pids = files.flatMap((f) =>
        groupPids(Number(fs.readFileSync(path.join(berth.dataDir, 'edge', f), 'utf8'))),
      );
      expect(pids.length).toBeGreaterThanOrEqual(edge === 'builtin' ? 1 : 3); // HAProxy's master + worker, helper
      for (const pid of pids) {
        const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
        const names = environ.split('\0').map((kv) => kv.split('=')[0]);
        expect(names).toContain('PATH');
        expect(names).not.toContain('BERTH_MASTER_KEY');
        expect(names).not.toContain('BERTH_TOKEN');
        expect(environ).not.toContain(masterKey);
        expect(environ).not.toContain(token);
      }
    });
  });
}
