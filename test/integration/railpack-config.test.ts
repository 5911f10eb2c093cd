import fs from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness } from '../helpers/berth.js';

interface Detail {
  config: { build: { buildCommand: string | null }; deploy: { startCommand: string | null } };
  configOrigins: Record<string, { source: string; file?: string; variable?: string }>;
}

/** Repos configured for Railpack or Nixpacks build and start the way those files say, through `berth up`. */
describe("Railpack's and Nixpacks' configuration surface", () => {
  const berth = new BerthHarness();
  beforeAll(async () => {
    await berth.start();
  });
  afterAll(async () => {
    await berth.stop();
  });

  /** The latest deployment of service as `GET /v1/deployments/:id` shows it. */
  const detail = async (service: string): Promise<Detail> => {
    const [latest] = await berth.settledDeployments(['-p', 'cfg', '-s', service]);
    const res = await request(`${berth.url}/v1/deployments/${latest.id}`, {
      headers: { authorization: `Bearer ${berth.token}` },
    });
    return (await res.body.json()) as Detail;
  };
  const commands = (d: Detail) => ({
    build: d.config.build.buildCommand,
    start: d.config.deploy.startCommand,
    buildFrom: d.configOrigins['build.buildCommand'],
    startFrom: d.configOrigins['deploy.startCommand'],
  });

  const buildLog = async (service: string) =>
    (await berth.cli(['logs', '--build', '-p', 'cfg', '-s', service, '-n', '300'])).stdout;

  it('railpack.json: its build step and start command run; what Berth cannot do is warned by name', async () => {
    const up = await berth.cli(['up', berth.app('railpack-json'), '-p', 'cfg', '-s', 'rp']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const res = await berth.get(berth.hostFor('rp', 'cfg'));
    expect(JSON.parse(res.body)).toEqual({ via: 'railpack', built: 'built by railpack.json steps.build' });
    const log = await buildLog('rp');
    expect(log).toContain('read railpack.json');
    expect(log).toContain(
      'start command from railpack.json deploy.startCommand: node src/server.js railpack',
    );
    expect(log).toContain('warning: railpack.json: "caches" is not supported by Berth and is ignored');
    expect(log).toContain(
      'warning: railpack.json: packages.ffmpeg ("7") is not installed by Berth; install ffmpeg on the host',
    );
    // The deployment records both commands with railpack.json as their origin, as it does railway.toml's.
    expect(commands(await detail('rp'))).toEqual({
      build: 'node src/build.js',
      start: 'node src/server.js railpack',
      buildFrom: { source: 'file', file: 'railpack.json' },
      startFrom: { source: 'file', file: 'railpack.json' },
    });
  });

  it('RAILPACK_START_CMD beats railpack.json; railway.toml deploy.startCommand beats both', async () => {
    const set = await berth.cli([
      'variables',
      'set',
      'RAILPACK_START_CMD=node src/server.js variable',
      '-p',
      'cfg',
      '-s',
      'rp',
    ]);
    expect(set.code, set.stderr).toBe(0);
    const [viaVariable] = await berth.settledDeployments(['-p', 'cfg', '-s', 'rp']);
    expect(viaVariable.status).toBe('SUCCESS');
    expect(JSON.parse((await berth.get(berth.hostFor('rp', 'cfg'))).body).via).toBe('variable');
    expect(commands(await detail('rp'))).toMatchObject({
      start: 'node src/server.js variable',
      startFrom: { source: 'variable', variable: 'RAILPACK_START_CMD' },
      buildFrom: { source: 'file', file: 'railpack.json' },
    });

    const dir = berth.app('railpack-json', 'railpack-json-toml');
    fs.writeFileSync(
      path.join(dir, 'railway.toml'),
      '[deploy]\nstartCommand = "node src/server.js railway-toml"\n',
    );
    const up = await berth.cli(['up', dir, '-p', 'cfg', '-s', 'rp']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(JSON.parse((await berth.get(berth.hostFor('rp', 'cfg'))).body).via).toBe('railway-toml');
    expect(commands(await detail('rp')).startFrom).toEqual({ source: 'file', file: 'railway.toml' });
  });

  it('nixpacks.toml: its build phase and start command run; setup packages are warned by name', async () => {
    const up = await berth.cli(['up', berth.app('nixpacks-toml'), '-p', 'cfg', '-s', 'nix']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const res = await berth.get(berth.hostFor('nix', 'cfg'));
    expect(JSON.parse(res.body)).toEqual({ via: 'nixpacks', built: 'built by nixpacks.toml phases.build' });
    const log = await buildLog('nix');
    expect(log).toContain('start command from nixpacks.toml start.cmd: node src/server.js nixpacks');
    expect(log).toContain(
      'warning: nixpacks.toml: phases.setup.nixPkgs (ffmpeg) is not installed by Berth; install it on the host',
    );
    expect(commands(await detail('nix'))).toMatchObject({
      start: 'node src/server.js nixpacks',
      startFrom: { source: 'file', file: 'nixpacks.toml' },
      buildFrom: { source: 'file', file: 'nixpacks.toml' },
    });
  });
});
