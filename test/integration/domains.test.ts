import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findHaproxy } from '../../src/edge/haproxy/driver.js';
import { BerthHarness } from '../helpers/berth.js';

const EDGE = findHaproxy() === null ? 'builtin' : 'haproxy';

/** `berth domain`: the generated domain, custom domains routed by the edge, and clear refusals. */
describe('custom domains', () => {
  const berth = new BerthHarness();
  const web = ['-p', 'dom', '-s', 'web'];

  beforeAll(async () => {
    // Named explicitly (auto picks it too): these run on HAProxy where it is installed (the conformance suite
    // covers both drivers), so its HTTPS, ACME and private-endpoint paths meet real flows too.
    berth.serverArgs = ['--edge', EDGE];
    await berth.start();
    expect((await berth.cli(['init', '--name', 'dom'])).code).toBe(0);
    expect((await berth.cli(['add', '--service', 'other', '-p', 'dom'])).code).toBe(0);
    const up = await berth.cli(['up', berth.app('lifecycle', 'web'), ...web]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
  });
  afterAll(() => berth.stop());

  it('shows the generated domain without an argument', async () => {
    // --edge auto: HAProxy when installed (the conformance suite covers the built-in edge as well).
    expect(berth.serverLog()).toContain(`(${EDGE} edge)`);
    const r = await berth.cli(['domain', ...web]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`http://web-dom.localhost:${berth.httpPort}\n`);
  });

  it('adds a custom domain that the edge serves at once, and lists it', async () => {
    const r = await berth.cli(['domain', 'Shop.Example.test.', ...web]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `Added shop.example.test to web (production): http://shop.example.test:${berth.httpPort}`,
    );
    expect(await berth.get('shop.example.test')).toMatchObject({ status: 200, body: 'v1' });
    expect(await berth.get('web-dom.localhost')).toMatchObject({ status: 200, body: 'v1' });

    const list = JSON.parse((await berth.cli(['domain', 'list', '--json', ...web])).stdout);
    expect(list.generated.hostname).toBe('web-dom.localhost');
    expect(list.custom.map((c: { hostname: string }) => c.hostname)).toEqual(['shop.example.test']);
    const table = await berth.cli(['domain', 'list', ...web]);
    expect(table.stdout).toMatch(/shop\.example\.test\s+custom/);
  });

  it('keeps serving the custom domain across a redeploy', async () => {
    expect((await berth.cli(['redeploy', ...web])).code).toBe(0);
    const [latest] = await berth.settledDeployments(web);
    expect(latest.status).toBe('SUCCESS');
    expect(await berth.get('shop.example.test')).toMatchObject({ status: 200, body: 'v1' });
  });

  it.each([
    ['a URL', 'https://shop.example.test/', 'give the host name only'],
    ['a port', 'shop.example.test:8443', 'leave out the port'],
    ['a single label', 'shop', 'at least two labels'],
    ['a name under the generated zone', 'mine.localhost', 'where Berth generates service domains'],
    ['a bad label', 'sh_op.example.test', '"sh_op" is not a valid label'],
  ])('refuses %s in one sentence', async (_what, domain, why) => {
    const r = await berth.cli(['domain', domain, ...web]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(why);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('refuses a domain another service already has, naming it', async () => {
    const r = await berth.cli(['domain', 'shop.example.test', '-p', 'dom', '-s', 'other']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'shop.example.test is already the domain of service web (production) in project dom',
    );
  });

  it('removes a custom domain; the edge answers 404 for it from then on', async () => {
    const r = await berth.cli(['domain', 'delete', 'shop.example.test', ...web]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect((await berth.get('shop.example.test')).status).toBe(404);
    const again = await berth.cli(['domain', 'delete', 'shop.example.test', ...web]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('has no custom domain shop.example.test');
  });
});
