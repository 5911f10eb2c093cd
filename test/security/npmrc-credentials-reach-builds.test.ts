import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicNpmrc } from '../../src/build/npm-config.js';
import { BerthHarness } from '../helpers/berth.js';
import { sandboxed } from '../helpers/optional-tools.js';

const token = 'npm_berthTestTokenThatMustNotLeak0123456789';

describe('attack: a build reads the npm credentials in the server’s .npmrc', () => {
  it('keeps every setting but credentials, bare or scoped to a registry', () => {
    const npmrc = [
      '# mirror',
      'registry=https://npm.example.internal/',
      `//npm.example.internal/:_authToken=${token}`,
      '_auth = dXNlcjpwYXNz',
      'nodedir=/usr',
      '//npm.example.internal/:username=ci',
      'email=ops@example.com',
      'maxsockets=7',
    ].join('\n');
    expect(publicNpmrc(npmrc)).toEqual({
      text: 'registry=https://npm.example.internal/\nnodedir=/usr\nmaxsockets=7\n',
      dropped: ['//npm.example.internal/:_authToken', '_auth', '//npm.example.internal/:username', 'email'],
    });
  });

  const berth = new BerthHarness();
  let home: string;
  beforeAll(async () => {
    // The daemon's HOME holds an .npmrc with a registry token and a harmless setting, as /root/.npmrc would.
    home = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'berth-npmrc-home-'));
    fs.writeFileSync(path.join(home, '.npmrc'), `maxsockets=7\n//registry.npmjs.org/:_authToken=${token}\n`, {
      mode: 0o600,
    });
    // npm run exports its own npm_config_userconfig to the tests; the server finds its .npmrc through HOME.
    berth.daemonEnv = { HOME: home, npm_config_userconfig: '', NPM_CONFIG_USERCONFIG: '' };
    await berth.start();
  });
  afterAll(async () => {
    await berth.stop();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('a sandboxed Node build gets the server’s npm settings, never its token', async (ctx) => {
    if (!sandboxed) ctx.skip(); // unsandboxed builds run as the daemon and read its .npmrc as is
    const dir = berth.app('node-deps', 'npmrc');
    fs.writeFileSync(
      path.join(dir, 'railway.toml'),
      '[build]\nbuildCommand = "echo maxsockets=$(npm config get maxsockets); cat \\"$npm_config_userconfig\\"; cat ~/.npmrc || true"\n',
    );
    const up = await berth.cli(['up', dir, '-p', 'npmrc', '-s', 'web']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const log = await berth.cli(['logs', '--build', '-p', 'npmrc', '-s', 'web']);
    expect(log.stdout).toContain('maxsockets=7');
    expect(log.stdout).toContain(
      "the server's npm credentials (//registry.npmjs.org/:_authToken) are not passed to builds",
    );
    expect(log.stdout + log.stderr).not.toContain(token);
  });
});
