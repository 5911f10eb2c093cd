import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness } from '../helpers/berth.js';

interface Run {
  id: string;
  trigger: string;
  status: string;
  startedAt: string;
  endedAt: string | null;
  exitCode: number | null;
  reason: string | null;
  logs: string[];
}

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

  const runsOf = async (scope: string[]): Promise<Run[]> => {
    const r = await berth.cli(['cron', 'runs', '--json', ...scope]);
    if (r.code !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout) as Run[];
  };

  it('records every run: exit codes, a run skipped while another ran, a run stopped at its time limit', async () => {
    const scope = ['-p', 'cr', '-s', 'sched'];
    await berth.cli(['add', '--service', 'sched', '-p', 'cr']);
    // run 1 succeeds, run 2 exits 3, run 3 sleeps 10 s: the next tick is skipped and it times out at 3 s
    const set = await berth.cli(['variables', 'set', 'PLAN=0,3,sleep,0', '--skip-deploys', ...scope]);
    expect(set.code, set.stderr).toBe(0);
    const up = await berth.cli(['up', berth.app('cron-records', 'sched'), ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const status = JSON.parse((await berth.cli(['status', '--json', '-p', 'cr'])).stdout) as {
      services: { name: string; cron?: { schedule: string; nextRunAt: string | null } }[];
    };
    const cron = status.services.find((s) => s.name === 'sched')?.cron;
    expect(cron?.schedule).toBe('*/2 * * * * *');
    expect(Date.parse(cron?.nextRunAt ?? '')).toBeGreaterThan(Date.now() - 1000);

    const runs = await waitFor(
      'a success, a failure, a skip and a timeout',
      async () => {
        const all = await runsOf(scope);
        const has = (s: string) => all.some((r) => r.status === s);
        return has('succeeded') && has('failed') && has('skipped') && has('timed_out') ? all : null;
      },
      { timeoutMs: 40_000, intervalMs: 500 },
    );
    const [ok] = runs.filter((r) => r.status === 'succeeded').slice(-1);
    expect(ok).toMatchObject({ trigger: 'schedule', exitCode: 0, reason: null });
    expect(ok.logs).toContain('run 1 starting');
    expect(Date.parse(ok.endedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(ok.startedAt));
    const failed = runs.find((r) => r.status === 'failed') as Run;
    expect(failed).toMatchObject({ exitCode: 3, reason: 'it exited with code 3' });
    expect(failed.logs).toContain('run 2 exits 3');
    const skipped = runs.find((r) => r.status === 'skipped') as Run;
    expect(skipped.reason).toMatch(/^the run started at \S+ \(\S+\) was still running$/);
    const timedOut = runs.find((r) => r.status === 'timed_out') as Run;
    expect(timedOut.reason).toBe(
      'it ran longer than its limit of 3s (deploy.cronTimeoutSeconds) and was stopped',
    );
    expect(timedOut.logs).toContain('run 3 starting');
    expect(timedOut.logs).not.toContain('run 3 done');
    const table = await berth.cli(['cron', 'runs', ...scope]);
    expect(table.stdout).toMatch(/timed_out/);
  }, 90_000);

  it('cron trigger runs one now, recorded as manual; a second while it runs is skipped and says why', async () => {
    const scope = ['-p', 'cr', '-s', 'manual'];
    await berth.cli(['add', '--service', 'manual', '-p', 'cr']);
    const set = await berth.cli([
      'variables',
      'set',
      'PLAN=sleep',
      'SLEEP_MS=2000',
      '--skip-deploys',
      ...scope,
    ]);
    expect(set.code, set.stderr).toBe(0);
    const app = berth.app('cron-records', 'manual');
    // once a year: only the triggers run it
    fs.writeFileSync(
      path.join(app, 'railway.toml'),
      '[deploy]\nstartCommand = "node job.js"\ncronSchedule = "0 0 1 1 *"\n',
    );
    expect((await berth.cli(['up', app, ...scope])).code).toBe(0);
    const first = await berth.cli(['cron', 'trigger', '--json', ...scope]);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ trigger: 'manual', status: 'running' });
    const second = await berth.cli(['cron', 'trigger', ...scope]);
    expect(second.code).toBe(1);
    expect(second.stdout).toMatch(/^Run skipped: the run started at .* was still running$/m);
    const runs = await waitFor(
      'the manual run to finish',
      async () => {
        const all = await runsOf(scope);
        return all.some((r) => r.status === 'succeeded') ? all : null;
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    expect(runs.map((r) => [r.trigger, r.status])).toEqual([
      ['manual', 'skipped'],
      ['manual', 'succeeded'],
    ]);
    expect(runs[1].logs).toEqual(['run 1 starting', 'run 1 done']);
  }, 60_000);

  it('cron trigger on a service that is not a cron service says so in one sentence', async () => {
    await berth.cli(['add', '--service', 'plain', '-p', 'cr']);
    const r = await berth.cli(['cron', 'trigger', '-p', 'cr', '-s', 'plain']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toBe(
      'Error: Service "plain" has no active cron deployment (deploy.cronSchedule); deploy it with a cronSchedule first.',
    );
  });
});
