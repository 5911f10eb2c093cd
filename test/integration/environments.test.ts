import fs from 'node:fs';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness } from '../helpers/berth.js';

interface DeploymentDetail {
  id: string;
  status: string;
  replicas: { pid: number | null }[];
}

/** `berth environment delete`: refuses production, stops and frees everything of the environment. */
describe('environment delete', () => {
  const berth = new BerthHarness();
  const project = 'envs';
  const api = async <T>(p: string): Promise<T> => {
    const res = await request(`${berth.url}${p}`, { headers: { authorization: `Bearer ${berth.token}` } });
    return (await res.body.json()) as T;
  };
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  beforeAll(async () => {
    await berth.start();
    const init = await berth.cli(['init', '--name', project]);
    expect(init.code, init.stderr).toBe(0);
    const up = await berth.cli(['up', berth.app('lifecycle', 'web'), '-p', project, '-s', 'web']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('refuses to delete production, with a sentence saying so', async () => {
    const r = await berth.cli(['environment', 'delete', 'production', '-p', project]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Environment "production" of project "envs" cannot be deleted/);
    expect((await berth.get(berth.hostFor('web', project), '/')).body).toBe('v1');
  });

  it('stops the replicas, removes the route, rows and files of a deleted environment', async () => {
    const created = await berth.cli([
      'environment',
      'new',
      'staging',
      '--duplicate',
      'production',
      '-p',
      project,
    ]);
    expect(created.code, created.stderr).toBe(0);
    const scope = ['-p', project, '-e', 'staging', '-s', 'web'];
    const [copied] = await berth.settledDeployments(scope);
    expect(copied.status).toBe('SUCCESS');
    const host = berth.hostFor('web', project, 'staging');
    expect((await berth.get(host, '/')).status).toBe(200);
    // Staging's own build (the duplicate reused production's source snapshot, which must survive).
    const redeploy = await berth.cli(['redeploy', ...scope]);
    expect(redeploy.code, redeploy.stderr).toBe(0);
    const [latest] = await berth.settledDeployments(scope);
    expect(latest.status).toBe('SUCCESS');
    const detail = await api<DeploymentDetail>(`/v1/deployments/${latest.id}`);
    const pids = detail.replicas.map((r) => r.pid).filter((p): p is number => p !== null);
    expect(pids.length).toBeGreaterThan(0);
    const logFile = `${berth.dataDir}/logs/${latest.id}.ndjson`;
    const artifact = `${berth.dataDir}/artifacts/${latest.id}`;
    expect(fs.existsSync(logFile)).toBe(true);
    expect(fs.existsSync(artifact)).toBe(true);

    const del = await berth.cli(['environment', 'delete', 'staging', '-p', project]);
    expect(del.code, del.stderr).toBe(0);
    expect(del.stdout).toMatch(/Deleted environment staging of envs: \d+ deployments removed/);

    expect((await berth.get(host, '/')).status).toBe(404);
    await waitFor('staging replicas to exit', () => pids.every((p) => !alive(p)), { timeoutMs: 10_000 });
    expect(fs.existsSync(logFile)).toBe(false);
    expect(fs.existsSync(artifact)).toBe(false);
    const list = JSON.parse((await berth.cli(['environment', 'list', '--json', '-p', project])).stdout) as {
      name: string;
    }[];
    expect(list.map((e) => e.name)).toEqual(['production']);
    const gone = await berth.cli(['deployments', '--json', ...scope]);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toMatch(/Environment "staging" does not exist/);

    // Production is untouched: still serving, its build still on disk.
    expect((await berth.get(berth.hostFor('web', project), '/')).body).toBe('v1');
    const [prod] = await berth.settledDeployments(['-p', project, '-s', 'web']);
    expect(prod.status).toBe('SUCCESS');
    expect(fs.existsSync(`${berth.dataDir}/artifacts/${prod.id}`)).toBe(true);
    expect(fs.existsSync(`${berth.dataDir}/sources/${prod.id}.tar.gz`)).toBe(true);
  });

  it('cancels a deployment still in progress when its environment is deleted', async () => {
    const created = await berth.cli(['environment', 'new', 'qa', '--duplicate', 'production', '-p', project]);
    expect(created.code, created.stderr).toBe(0);
    const scope = ['-p', project, '-e', 'qa', '-s', 'web'];
    expect((await berth.settledDeployments(scope))[0].status).toBe('SUCCESS');
    // Unhealthy: the next deployment sits in its health check (timeout 4 s) with a replica running.
    const set = await berth.cli(['variables', 'set', 'HEALTH_STATUS=503', ...scope]);
    expect(set.code, set.stderr).toBe(0);
    const pid = await waitFor('the unhealthy replica to start', async () => {
      const [latest] = JSON.parse((await berth.cli(['deployments', '--json', ...scope])).stdout) as {
        id: string;
      }[];
      const d = await api<DeploymentDetail>(`/v1/deployments/${latest.id}`);
      return d.status === 'DEPLOYING' ? (d.replicas.find((r) => r.pid)?.pid ?? null) : null;
    });
    const del = await berth.cli(['environment', 'delete', 'qa', '-p', project]);
    expect(del.code, del.stderr).toBe(0);
    await waitFor('the in-flight replica to be killed', () => !alive(pid), { timeoutMs: 10_000 });
    expect((await berth.get(berth.hostFor('web', project, 'qa'), '/')).status).toBe(404);
    expect(berth.serverLog()).not.toMatch(/deployment run crashed/);
  });
});
