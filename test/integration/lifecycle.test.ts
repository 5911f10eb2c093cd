import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness, type DeploymentRow } from '../helpers/berth.js';

/**
 * One service through a series of deploys: each failure mode must leave the previous version
 * serving, and rollback must re-activate an old build without rebuilding it.
 */
describe('deploy lifecycle: health-gated switch, failures keep the old version, rollback', () => {
  const berth = new BerthHarness();
  let dir: string;
  const scope = ['-p', 'life', '-s', 'web'];
  const host = () => berth.hostFor('web', 'life');
  const serving = async () => (await berth.get(host())).body;
  const deployments = async (): Promise<DeploymentRow[]> =>
    JSON.parse((await berth.cli(['deployments', '--json', ...scope])).stdout);

  beforeAll(async () => {
    await berth.start();
    dir = berth.app('lifecycle', 'web');
    const up = await berth.cli(['up', dir, ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('serves v1 after a health-gated deploy', async () => {
    expect(await serving()).toBe('v1');
  });

  it('a failing health check fails the deployment and v1 keeps serving', async () => {
    const set = await berth.cli(['variables', 'set', 'VERSION=v2', 'HEALTH_STATUS=503', ...scope]);
    expect(set.code, set.stderr).toBe(0);
    const [latest] = await berth.settledDeployments(scope);
    expect(latest.status).toBe('FAILED');
    expect(latest.reason).toBe('health check /health got 503 for 4s');
    expect(await serving()).toBe('v1');
  });

  it('a healthy v2 replaces v1', async () => {
    const del = await berth.cli(['variables', 'delete', 'HEALTH_STATUS', ...scope]);
    expect(del.code, del.stderr).toBe(0);
    const [latest] = await berth.settledDeployments(scope);
    expect(latest.status).toBe('SUCCESS');
    expect(await serving()).toBe('v2');
  });

  it('a failing preDeployCommand fails the deployment with its output and v2 keeps serving', async () => {
    const toml = fs.readFileSync(path.join(dir, 'railway.toml'), 'utf8');
    fs.writeFileSync(
      path.join(dir, 'railway.toml'),
      toml.replace('[deploy]', '[deploy]\npreDeployCommand = "echo migrating the database; exit 3"'),
    );
    const up = await berth.cli(['up', dir, ...scope]);
    expect(up.code).toBe(1);
    expect(up.stdout + up.stderr).toContain('preDeployCommand exited 3: migrating the database');
    expect(await serving()).toBe('v2');
    fs.writeFileSync(path.join(dir, 'railway.toml'), toml);
  });

  it('invalid config fails before the build, names file and key, and v2 keeps serving', async () => {
    const toml = fs.readFileSync(path.join(dir, 'railway.toml'), 'utf8');
    fs.writeFileSync(path.join(dir, 'railway.toml'), toml.replace('"ON_FAILURE"', '"sometimes"'));
    const up = await berth.cli(['up', dir, ...scope]);
    expect(up.code).toBe(1);
    const [latest] = await deployments();
    expect(latest.status).toBe('FAILED');
    expect(latest.reason).toContain('railway.toml');
    expect(latest.reason).toContain('deploy.restartPolicyType');
    expect(await serving()).toBe('v2');
    fs.writeFileSync(path.join(dir, 'railway.toml'), toml);
  });

  it('an app that never listens on $PORT fails with that reason', async () => {
    const set = await berth.cli(['variables', 'set', 'LISTEN=0', ...scope]);
    expect(set.code, set.stderr).toBe(0);
    const [latest] = await berth.settledDeployments(scope);
    expect(latest.status).toBe('FAILED');
    expect(latest.reason).toMatch(/^app did not listen on \$PORT \(\d+\) within 4s/);
    expect(await serving()).toBe('v2');
    await berth.cli(['variables', 'delete', 'LISTEN', '--skip-deploys', ...scope]);
  });

  it('rollback re-activates the previous successful deployment without rebuilding', async () => {
    const before = await deployments();
    const v1 = before.filter((d) => d.status === 'REMOVED').at(-1);
    expect(v1).toBeDefined();
    const rb = await berth.cli(['rollback', ...scope]);
    expect(rb.code, rb.stdout + rb.stderr).toBe(0);
    expect(await serving()).toBe('v1');
    const [latest] = await deployments();
    expect(latest.status).toBe('SUCCESS');
    const logs = await berth.cli(['logs', latest.id, '--build', '--json', ...scope]);
    expect(logs.stdout.trim()).toBe('');
    const deployLogs = await berth.cli(['logs', latest.id, '--json', ...scope]);
    expect(deployLogs.stdout).toContain('no rebuild');
  });

  it('redeploy re-runs the latest source and restart keeps serving the same version', async () => {
    const re = await berth.cli(['restart', ...scope]);
    expect(re.code, re.stdout + re.stderr).toBe(0);
    expect(await serving()).toBe('v1');
    const st = JSON.parse((await berth.cli(['status', '--json', '-p', 'life'])).stdout);
    expect(st.services[0].replicas).toBe(1);
    // where the server keeps its data, and how much room is left there
    expect(st.disk.path).toBe(berth.dataDir);
    expect(st.disk.freeBytes).toBeGreaterThan(0);
    expect(st.disk.totalBytes).toBeGreaterThanOrEqual(st.disk.freeBytes);
  });
});
