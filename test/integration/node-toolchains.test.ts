import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness } from '../helpers/berth.js';

interface Report {
  app: string;
  node: string;
  agent: string | null;
  ms: number;
}

/**
 * Real builds through the real daemon, each on a fresh data dir (an empty build cache): the package manager
 * or Node version the repository asks for is downloaded from the npm registry, and the deployed app reports
 * what it runs on (process.version, and npm_config_user_agent set by the package manager running `start`).
 */
describe('Node toolchains the repository asks for, on a fresh host', () => {
  const berth = new BerthHarness();
  const cache = () => path.join(berth.dataDir, 'cache');
  beforeAll(async () => {
    await berth.start();
  });
  afterAll(async () => {
    await berth.stop();
  });

  async function deploy(fixture: string, service: string): Promise<Report> {
    const up = await berth.cli(['up', berth.app(fixture), '-p', 'tools', '-s', service]);
    expect(up.code, up.stderr + up.stdout).toBe(0);
    const res = await berth.get(berth.hostFor(service, 'tools'));
    expect(res.status).toBe(200);
    return JSON.parse(res.body) as Report;
  }

  it('pnpm pinned by packageManager (with its sha512) is downloaded, checked and runs the app', async () => {
    // Nothing downloaded yet (a sandboxing server makes the empty directory at start).
    const pms = path.join(cache(), 'package-managers');
    expect(fs.existsSync(pms) ? fs.readdirSync(pms) : []).toEqual([]);
    const report = await deploy('node-pnpm', 'pnpm');
    expect(report).toMatchObject({ app: 'node-pnpm', ms: 60000 });
    expect(report.agent).toMatch(/^pnpm\/9\.15\.9 /);
    expect(fs.existsSync(path.join(cache(), 'package-managers', 'pnpm@9.15.9', 'bin', 'pnpm'))).toBe(true);
  });

  it('a Yarn 1 app gets yarn 1.x from its yarn.lock format', async () => {
    const report = await deploy('node-yarn1', 'yarn1');
    expect(report).toMatchObject({ app: 'node-yarn1', ms: 60000 });
    expect(report.agent).toMatch(/^yarn\/1\.22\.\d+ /);
  });

  it('a Yarn Berry app (.yarnrc.yml, packageManager yarn@4) installs with yarn 4 --immutable', async () => {
    const report = await deploy('node-yarn-berry', 'berry');
    expect(report).toMatchObject({ app: 'node-yarn-berry', ms: 60000 });
    expect(report.agent).toMatch(/^yarn\/4\.18\.1 /);
  });

  it('engines.node 22.x runs on a downloaded Node 22, not the host node', async () => {
    expect(process.version.startsWith('v22.')).toBe(false);
    const report = await deploy('node-engines-22', 'node22');
    expect(report.node).toMatch(/^v22\./);
    expect(fs.existsSync(path.join(cache(), 'runtimes', `node-${report.node.slice(1)}`, 'bin', 'node'))).toBe(
      true,
    );
  });

  it('a package.json changed under an unchanged lockfile fails with npm ci and keeps the old deployment', async () => {
    const dir = berth.app('node-deps', 'manifest-drift');
    const first = await berth.cli(['up', dir, '-p', 'tools', '-s', 'drift']);
    expect(first.code, first.stderr + first.stdout).toBe(0);

    const pkgFile = path.join(dir, 'package.json');
    const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8'));
    pkg.dependencies['left-pad'] = '1.3.0'; // package-lock.json does not have it
    fs.writeFileSync(pkgFile, JSON.stringify(pkg, null, 2));
    const second = await berth.cli(['up', dir, '-p', 'tools', '-s', 'drift']);
    expect(second.code).not.toBe(0);
    expect(second.stderr + second.stdout).toMatch(/npm ci/);
    expect(second.stderr + second.stdout).toMatch(/in sync|lock file/i);

    // The first deployment still serves.
    const res = await berth.get(berth.hostFor('drift', 'tools'));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ version: 'v1', ms: 60000 });
  });
});
