import fs from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness } from '../helpers/berth.js';

interface Detail {
  id: string;
  replicas: unknown[];
  configOrigins: Record<string, { source: string; file?: string }>;
}

/** `berth service update` settings (Railway's dashboard), per environment, below a committed config file. */
describe('service settings from the CLI', () => {
  const berth = new BerthHarness();
  let dir: string;
  const scope = ['-p', 'cfg', '-s', 'web'];
  const detail = async (environment = 'production'): Promise<Detail> => {
    const [latest] = await berth.settledDeployments([...scope, '-e', environment]);
    const res = await request(`${berth.url}/v1/deployments/${latest.id}`, {
      headers: { authorization: `Bearer ${berth.token}` },
    });
    return (await res.body.json()) as Detail;
  };
  const via = async (environment = 'production') =>
    JSON.parse((await berth.get(berth.hostFor('web', 'cfg', environment))).body).via as string;

  beforeAll(async () => {
    await berth.start();
    dir = berth.app('railpack-json', 'web');
    const first = await berth.cli(['up', dir, ...scope]);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const env = await berth.cli(['environment', 'new', 'staging', '-p', 'cfg']);
    expect(env.code, env.stderr).toBe(0);
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('set with service update, they apply to the next deployment with their origin', async () => {
    const set = await berth.cli([
      'service',
      'update',
      ...scope,
      '--start-command',
      'node src/server.js settings',
      '--pre-deploy-command',
      'echo migrating with the service settings',
      '--healthcheck-path',
      '/',
      '--replicas',
      '2',
    ]);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain(
      'Settings of web in production: start command node src/server.js settings, pre-deploy command echo migrating with the service settings, healthcheck path /, replicas 2',
    );
    const up = await berth.cli(['up', dir, ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(up.stdout).toContain('migrating with the service settings');
    // The dashboard's start command beats railpack.json's, as on Railway.
    expect(await via()).toBe('settings');
    const d = await detail();
    expect(d.replicas).toHaveLength(2);
    for (const key of [
      'deploy.startCommand',
      'deploy.preDeployCommand',
      'deploy.healthcheckPath',
      'deploy.numReplicas',
    ]) {
      expect(d.configOrigins[key], key).toEqual({ source: 'service settings' });
    }
    // railpack.json's build step, below the settings (none for the build command here).
    expect(d.configOrigins['build.buildCommand']).toEqual({ source: 'file', file: 'railpack.json' });
  });

  it('are per environment: staging keeps its own (none)', async () => {
    const up = await berth.cli(['up', dir, ...scope, '-e', 'staging']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(await via('staging')).toBe('railpack');
    expect((await detail('staging')).configOrigins['deploy.startCommand']).toEqual({
      source: 'file',
      file: 'railpack.json',
    });
  });

  it('a duplicated environment starts with the settings of the one it copies', async () => {
    const qa = await berth.cli(['environment', 'new', 'qa', '--duplicate', 'production', '-p', 'cfg']);
    expect(qa.code, qa.stderr).toBe(0);
    const res = await request(`${berth.url}/v1/projects/cfg/environments/qa/services/web/settings`, {
      headers: { authorization: `Bearer ${berth.token}` },
    });
    expect(await res.body.json()).toMatchObject({
      startCommand: 'node src/server.js settings',
      numReplicas: 2,
    });
  });

  it('a committed railway.toml wins over the same setting; the others still apply', async () => {
    fs.writeFileSync(
      path.join(dir, 'railway.toml'),
      '[deploy]\nstartCommand = "node src/server.js railway-toml"\n',
    );
    const up = await berth.cli(['up', dir, ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(await via()).toBe('railway-toml');
    const d = await detail();
    expect(d.configOrigins['deploy.startCommand']).toEqual({ source: 'file', file: 'railway.toml' });
    expect(d.configOrigins['deploy.numReplicas']).toEqual({ source: 'service settings' });
    fs.rmSync(path.join(dir, 'railway.toml'));
  });

  it('a bad value is refused at once, naming the setting; "" clears one', async () => {
    const bad = await berth.cli(['service', 'update', ...scope, '--cron', 'every tuesday']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('service settings: deploy.cronSchedule');
    const replicas = await berth.cli(['service', 'update', ...scope, '--replicas', 'two']);
    expect(replicas.stderr).toContain('--replicas takes a whole number, not "two"');
    const clear = await berth.cli(['service', 'update', ...scope, '--replicas', '', '--json']);
    expect(clear.code, clear.stderr).toBe(0);
    expect(JSON.parse(clear.stdout)).toEqual({
      startCommand: 'node src/server.js settings',
      preDeployCommand: ['echo migrating with the service settings'],
      healthcheckPath: '/',
    });
  });
});
