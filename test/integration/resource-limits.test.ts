import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness } from '../helpers/berth.js';

interface LimitsAnswer {
  services: {
    name: string;
    replicas: number;
    desiredReplicas?: number;
    limits?: {
      memoryBytes: number | null;
      cpus: number | null;
      pids: number | null;
      notEnforced: string | null;
      oomKills: number;
    };
  }[];
}

const MIB = 1024 * 1024;

async function deployLimitsApp(
  berth: BerthHarness,
  project: string,
): Promise<{ scope: string[]; id: string }> {
  const scope = ['-p', project, '-s', 'web'];
  expect((await berth.cli(['init', '--name', project])).code).toBe(0);
  expect((await berth.cli(['add', '--service', 'web', '-p', project])).code).toBe(0);
  const up = await berth.cli(['up', berth.app('limits', `${project}-limits`), ...scope]);
  expect(up.code, up.stdout + up.stderr).toBe(0);
  const [d] = await berth.settledDeployments(scope);
  expect(d.status).toBe('SUCCESS');
  return { scope, id: d.id };
}

async function statusOf(berth: BerthHarness, project: string) {
  return (JSON.parse((await berth.cli(['status', '--json', '-p', project])).stdout) as LimitsAnswer)
    .services[0];
}

describe('resource limits enforced with cgroups', () => {
  const berth = new BerthHarness();
  beforeAll(async () => {
    await berth.start();
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('a replica that allocates beyond its memory limit is OOM-killed, reported, and restarted by its policy', async () => {
    const { scope, id } = await deployLimitsApp(berth, 'lim');
    const host = berth.hostFor('web', 'lim');
    const logs = async () => (await berth.cli(['logs', id, '-n', '1000', ...scope])).stdout;
    expect(await logs()).toContain('Limits per replica: memory 96 MiB, 0.5 CPU, 64 processes');
    expect(await statusOf(berth, 'lim')).toMatchObject({
      limits: { memoryBytes: 96 * MIB, cpus: 0.5, pids: 64, notEnforced: null, oomKills: 0 },
    });

    const before = (await berth.get(host, '/health')).body;
    expect((await berth.get(host, '/hog')).body).toBe('allocating');
    await waitFor(
      'the OOM kill and the restart',
      async () => (await logs()).includes('replica 0 is healthy again'),
      {
        timeoutMs: 30_000,
      },
    );
    const log = await logs();
    expect(log).toContain(
      'replica 0 was OOM-killed: it reached its memory limit; restarting it in 0.5s (restart 1 of 10)',
    );
    const after = await berth.get(host, '/health');
    expect(after.status).toBe(200);
    expect(after.body).not.toBe(before); // a new process
    const s = await statusOf(berth, 'lim');
    expect(s).toMatchObject({ replicas: 1, desiredReplicas: 1, limits: { oomKills: 1 } });
    expect((await berth.cli(['status', '-p', 'lim'])).stdout).toContain(
      'web: limits per replica: memory 96.0 MB, 0.5 CPU, 64 processes; OOM-killed 1 time at its memory limit',
    );
  }, 120_000);

  it('the replica runs inside its cgroup from its first instruction, and the cgroup goes with it', async () => {
    const db = new Database(path.join(berth.dataDir, 'state.db'), { readonly: true });
    const rows = db
      .prepare("SELECT handle_json FROM workloads WHERE handle_json IS NOT NULL AND owner_kind = 'replica'")
      .all() as { handle_json: string }[];
    db.close();
    expect(rows).toHaveLength(1);
    const h = JSON.parse(rows[0].handle_json) as { pid: number; cgroup: { dirs: string[] } };
    const procs = (await import('node:fs')).readFileSync(
      path.join(h.cgroup.dirs.find((d) => d.includes('/memory/')) as string, 'cgroup.procs'),
      'utf8',
    );
    expect(procs.split('\n')).toContain(String(h.pid));
    expect((await berth.cli(['down', '-p', 'lim', '-s', 'web', '--yes'])).code).toBe(0);
    const fs = await import('node:fs');
    await waitFor('its cgroups to be removed', () => h.cgroup.dirs.every((d) => !fs.existsSync(d)));
  }, 60_000);
});

describe('resource limits on a host without cgroups', () => {
  const berth = new BerthHarness();
  beforeAll(async () => {
    berth.serverArgs = ['--cgroups', 'off'];
    await berth.start();
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('the deploy log and berth status say the limits are not enforced, and why, in one sentence', async () => {
    const { scope, id } = await deployLimitsApp(berth, 'nolim');
    const sentence =
      'memoryLimit (memory 96 MiB), cpuLimit (0.5 CPU) and pidsLimit (64 processes) are not enforced on this host: cgroups are turned off (berth server --cgroups off).';
    expect((await berth.cli(['logs', id, '-n', '1000', ...scope])).stdout).toContain(sentence);
    expect(await statusOf(berth, 'nolim')).toMatchObject({
      replicas: 1,
      limits: { memoryBytes: 96 * MIB, cpus: 0.5, pids: 64, notEnforced: sentence, oomKills: 0 },
    });
    expect((await berth.cli(['status', '-p', 'nolim'])).stdout).toContain(`web: ${sentence}`);
  }, 120_000);
});
