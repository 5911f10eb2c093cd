import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness } from '../helpers/berth.js';

const token = 'npm_berthYarnTokenThatMustNotLeak0123456789';

/**
 * A server whose .npmrc points at a registry mirror (here a pass-through mirror of the npm registry on loopback,
 * as a team's Verdaccio would be): a Yarn Berry app's install must go through it, although Yarn never reads
 * .npmrc. Real daemon, real sandboxed build, real yarn 4 downloaded on an empty cache.
 */
describe("Yarn Berry builds use the server's npm registry settings", () => {
  const berth = new BerthHarness();
  const requested: string[] = [];
  let mirror: http.Server;
  let mirrorUrl: string;
  let home: string;

  beforeAll(async () => {
    mirror = http.createServer((req, res) => {
      requested.push(req.url ?? '');
      const upstream = https.request(
        {
          host: 'registry.npmjs.org',
          path: req.url,
          method: req.method,
          headers: { accept: req.headers.accept ?? '*/*', 'accept-encoding': 'identity' },
        },
        (r) => {
          res.writeHead(r.statusCode ?? 502, { 'content-type': r.headers['content-type'] ?? 'text/plain' });
          r.pipe(res);
        },
      );
      upstream.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      upstream.end();
    });
    await new Promise<void>((resolve) => mirror.listen(0, '127.0.0.1', resolve));
    mirrorUrl = `http://127.0.0.1:${(mirror.address() as AddressInfo).port}/`;

    home = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'berth-yarn-home-'));
    const host = mirrorUrl.slice('http:'.length, -1);
    fs.writeFileSync(path.join(home, '.npmrc'), `registry=${mirrorUrl}\n${host}/:_authToken=${token}\n`, {
      mode: 0o600,
    });
    // npm run exports its own npm_config_userconfig to the tests; the server finds its .npmrc through HOME.
    berth.daemonEnv = { HOME: home, npm_config_userconfig: '', NPM_CONFIG_USERCONFIG: '' };
    await berth.start();
  });
  afterAll(async () => {
    await berth.stop();
    await new Promise((resolve) => mirror.close(resolve));
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('installs from the mirror .npmrc names, and yarn reports it as its registry', async () => {
    const dir = berth.app('node-yarn-berry', 'berry-mirror');
    fs.writeFileSync(
      path.join(dir, 'railway.toml'),
      '[build]\nbuildCommand = "echo registry=$(yarn config get npmRegistryServer)"\n',
    );
    const up = await berth.cli(['up', dir, '-p', 'mirror', '-s', 'berry']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const res = await berth.get(berth.hostFor('berry', 'mirror'));
    expect(JSON.parse(res.body)).toMatchObject({ app: 'node-yarn-berry', ms: 60000 });
    expect(JSON.parse(res.body).agent).toMatch(/^yarn\/4\.18\.1 /);

    // yarn.lock pins ms 2.1.3: its tarball came through the mirror, fetched by yarn in the build.
    expect(requested).toContain('/ms/-/ms-2.1.3.tgz');
    const log = (await berth.cli(['logs', '--build', '-p', 'mirror', '-s', 'berry', '-n', '300'])).stdout;
    expect(log).toContain(`registry=${mirrorUrl.slice(0, -1)}`);
    expect(log).toContain("Yarn Berry does not read .npmrc: the server's npm settings (npmRegistryServer");
    expect(log).not.toContain(token);
  });
});
