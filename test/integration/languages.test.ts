import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { which } from '../../src/build/exec.js';
import { BerthHarness } from '../helpers/berth.js';
import { needs } from '../helpers/optional-tools.js';

/**
 * Railpack's other providers through the real daemon and CLI: a Go module is built with the host's go and
 * runs its binary; a language Berth does not build fails the deploy in one sentence saying what to install.
 */
describe('languages besides Node and Python', () => {
  const berth = new BerthHarness();
  beforeAll(async () => {
    await berth.start();
  });
  afterAll(async () => {
    await berth.stop();
  });

  // .ci/run installs Debian's golang-go; a machine without it gets the sentence the next test checks for Elixir.
  const go = needs(
    'golang-go',
    'a Go module without dependencies is built with go build and runs its binary',
  );
  it.skipIf(go.skip)(go.title, async () => {
    const up = await berth.cli(['up', berth.app('go-stdlib'), '-p', 'langs', '-s', 'go']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const res = await berth.get(berth.hostFor('go', 'langs'));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ app: 'go-stdlib', go: expect.stringMatching(/^go1\./) });
    const logs = await berth.cli(['logs', '--build', '-p', 'langs', '-s', 'go']);
    expect(logs.stdout).toContain('detected provider: go (found go.mod)');
    expect(logs.stdout).toContain('$ go build -ldflags=-w -s -o out');
  });

  it('an Elixir app on a host without mix fails in one sentence naming what to install', async () => {
    expect(which('mix', process.env.PATH ?? '')).toBeNull();
    const up = await berth.cli(['up', berth.app('elixir-app'), '-p', 'langs', '-s', 'ex']);
    expect(up.code).not.toBe(0);
    expect(up.stdout + up.stderr).toContain(
      'Berth detected an Elixir app (mix.exs) but this host has no mix; install it on the server (Debian: apt-get install elixir) and deploy again',
    );
  });
});
