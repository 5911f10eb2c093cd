import fs from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness } from '../helpers/berth.js';

/** A railway.toml asking for a host-filling number of replicas is refused before anything is built or started. */
describe('a deployment asking for 100000 replicas', () => {
  const berth = new BerthHarness();
  beforeAll(async () => {
    await berth.start();
  });
  afterAll(async () => {
    await berth.stop();
  });

  async function deploy(service: string, deploySection: string) {
    const dir = berth.app('lifecycle', service);
    const toml = fs
      .readFileSync(path.join(dir, 'railway.toml'), 'utf8')
      .replace('[deploy]', `${deploySection}\n`);
    // The build would say so in its log (a sandboxed build cannot write outside its tree): it must never run.
    fs.writeFileSync(path.join(dir, 'railway.toml'), `[build]\nbuildCommand = "echo build-ran"\n\n${toml}`);
    const scope = ['-p', 'bomb', '-s', service];
    const up = await berth.cli(['up', dir, ...scope]);
    const [d] = await berth.settledDeployments(scope);
    const log = await berth.cli(['logs', d.id, '--build', ...scope]);
    return { up, d, built: /^(\[build\] )?build-ran$/m.test(log.stdout) };
  }

  it('is refused before the build with one sentence naming the key and the cap', async () => {
    const { up, d, built } = await deploy('many', '[deploy]\nnumReplicas = 100000');
    expect(up.code).not.toBe(0);
    expect(d.status).toBe('FAILED');
    expect(d.reason).toBe(
      'railway.toml: deploy.numReplicas asks for 100000 replicas, more than this server runs for one deployment (64); lower it (multiRegionConfig replicas count together), or start the server with --max-replicas 100000',
    );
    expect(up.stdout + up.stderr).toContain('deploy.numReplicas asks for 100000 replicas');
    expect(built).toBe(false);
    const res = await request(`${berth.url}/v1/deployments/${d.id}`, {
      headers: { authorization: `Bearer ${berth.token}` },
    });
    expect(((await res.body.json()) as { replicas: unknown[] }).replicas).toEqual([]);
  });

  it('counts multiRegionConfig replicas together', async () => {
    const { d, built } = await deploy(
      'regions',
      '[deploy.multiRegionConfig.us-west2]\nnumReplicas = 40\n[deploy.multiRegionConfig.europe-west4]\nnumReplicas = 40\n\n[deploy]',
    );
    expect(d.status).toBe('FAILED');
    expect(d.reason).toContain('deploy.numReplicas asks for 80 replicas');
    expect(d.reason).toContain('(64)');
    expect(built).toBe(false);
  });

  it('runs a deployment within the cap', async () => {
    const { up, d, built } = await deploy('few', '[deploy]\nnumReplicas = 2');
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(d.status).toBe('SUCCESS');
    expect(built).toBe(true);
  });
});
