import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness } from '../helpers/berth.js';

describe('cron services', () => {
  const berth = new BerthHarness();
  beforeAll(async () => {
    await berth.start();
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('runs the start command on its schedule instead of keeping replicas up', async () => {
    const scope = ['-p', 'cr', '-s', 'job'];
    await berth.cli(['init', '--name', 'cr']);
    await berth.cli(['add', '--service', 'job', '-p', 'cr']);
    // Relative: the run writes into its own app directory, the one place outside /tmp its sandbox may write.
    const set = await berth.cli(['variables', 'set', 'OUT_FILE=runs.txt', '--skip-deploys', ...scope]);
    expect(set.code, set.stderr).toBe(0);
    const up = await berth.cli(['up', berth.app('cron-job'), ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const [d] = await berth.settledDeployments(scope);
    expect(d.status).toBe('SUCCESS');
    expect(d.reason).toMatch(/^Scheduled "\*\/2 \* \* \* \* \*" \(UTC\); next run /);
    const out = path.join(berth.dataDir, 'artifacts', d.id, 'app', 'runs.txt');
    const runs = await waitFor(
      'two cron runs',
      () => {
        const lines = fs.existsSync(out) ? fs.readFileSync(out, 'utf8').trim().split('\n') : [];
        return lines.length >= 2 ? lines : null;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    expect(runs[0]).toContain(d.id);
    // the run's output and exit reach the deployment log just after the file is written
    const logs = await waitFor('the run to be logged', async () => {
      const out = (await berth.cli(['logs', d.id, ...scope])).stdout;
      return out.includes('cron run exited with code 0') ? out : null;
    });
    expect(logs).toContain('job ran');
  });
});
