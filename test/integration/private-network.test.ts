import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findHaproxy } from '../../src/edge/haproxy/driver.js';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness, uniqueProject } from '../helpers/berth.js';

const EDGE = findHaproxy() === null ? 'builtin' : 'haproxy';

/**
 * Services reach each other at `<service>.<environment>.<project>.internal`, resolved through the real
 * /etc/hosts and forwarded by the edge, as on Railway's private network.
 */
describe('private networking', () => {
  const berth = new BerthHarness();
  // A project name of its own: /etc/hosts is shared by every daemon on the machine.
  const project = uniqueProject('pn');
  const api = ['-p', project, '-s', 'api'];
  const web = ['-p', project, '-s', 'web'];
  const apiDomain = `api.production.${project}.internal`;
  const call = (variable: string) => berth.get(berth.hostFor('web', project), `/call?var=${variable}`);
  const env = async (service: string) =>
    JSON.parse((await berth.get(berth.hostFor(service, project), '/env')).body) as Record<string, string>;

  beforeAll(async () => {
    berth.hostsFile = '/etc/hosts';
    // Named explicitly (auto picks it too): these run on HAProxy where it is installed (the conformance suite
    // covers both drivers), so its HTTPS, ACME and private-endpoint paths meet real flows too.
    berth.serverArgs = ['--edge', EDGE];
    await berth.start();
    for (const cmd of [
      ['init', '--name', project],
      ['add', '--service', 'api', '-p', project],
      ['add', '--service', 'web', '-p', project],
      ['variables', 'set', 'VERSION=api-v1', '--skip-deploys', ...api],
      [
        'variables',
        'set',
        'API_URL=http://${{api.RAILWAY_PRIVATE_DOMAIN}}:${{api.PORT}}/',
        `PINNED_URL=http://${apiDomain}:4123/`,
        '--skip-deploys',
        ...web,
      ],
    ]) {
      const r = await berth.cli(cmd);
      expect(r.code, `${cmd.join(' ')}: ${r.stderr}`).toBe(0);
    }
    for (const scope of [api, web]) {
      const up = await berth.cli(['up', berth.app('lifecycle', scope[3]), ...scope]);
      expect(up.code, up.stdout + up.stderr).toBe(0);
    }
  });

  afterAll(async () => {
    await berth.stop();
    expect(fs.readFileSync('/etc/hosts', 'utf8')).not.toContain(apiDomain);
  });

  it('provides RAILWAY_PRIVATE_DOMAIN and a private address other services reach by name', async () => {
    // --edge auto: HAProxy when installed (the conformance suite covers the built-in edge as well).
    expect(berth.serverLog()).toContain(`(${EDGE} edge)`);
    const vars = await env('api');
    expect(vars.RAILWAY_PRIVATE_DOMAIN).toBe(apiDomain);
    expect(vars.BERTH_PRIVATE_DOMAIN).toBe(apiDomain);
    expect(fs.readFileSync('/etc/hosts', 'utf8')).toMatch(
      new RegExp(`^127\\.\\d+\\.\\d+\\.\\d+ ${apiDomain}$`, 'm'),
    );

    const webVars = await env('web');
    expect(webVars.API_URL).toMatch(new RegExp(`^http://${apiDomain}:\\d+/$`));
    const res = await call('API_URL');
    expect(res).toMatchObject({ status: 200, body: 'api-v1' });
  });

  it('keeps the private address across deploys of the service behind it', async () => {
    const r = await berth.cli(['variables', 'set', 'VERSION=api-v2', ...api]);
    expect(r.code, r.stderr).toBe(0);
    const [latest] = await berth.settledDeployments(api);
    expect(latest.status).toBe('SUCCESS');
    // web was not redeployed: the same address reaches the new version, on new connections at once and
    // on web's kept-alive ones once the old replica has shut down.
    await waitFor('web to reach api-v2', async () => (await call('API_URL')).body === 'api-v2', {
      timeoutMs: 20_000,
    });
    expect(await call('API_URL')).toMatchObject({ status: 200, body: 'api-v2' });
  });

  it('serves on the PORT variable privately while each replica still gets a port of its own', async () => {
    const r = await berth.cli(['variables', 'set', 'PORT=4123', ...api]);
    expect(r.code, r.stderr).toBe(0);
    const [latest] = await berth.settledDeployments(api);
    expect(latest.status).toBe('SUCCESS');
    expect((await env('api')).PORT).not.toBe('4123');
    expect(await call('PINNED_URL')).toMatchObject({ status: 200, body: 'api-v2' });
  });

  it('fails a PORT variable that is not a port before the build, and the old version keeps serving', async () => {
    const r = await berth.cli(['variables', 'set', 'PORT=http', ...api]);
    expect(r.code, r.stderr).toBe(0); // the variable is stored; the deployment it triggers fails
    const [latest] = await berth.settledDeployments(api);
    expect(latest.status).toBe('FAILED');
    expect(latest.reason).toContain('the PORT variable is "http", which is not a TCP port number');
    expect(await call('PINNED_URL')).toMatchObject({ status: 200, body: 'api-v2' });
  });
});
