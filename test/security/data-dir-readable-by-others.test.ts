import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness } from '../helpers/berth.js';

/**
 * Attack: another local user (or an unsandboxed app running as one) reads a data dir that an older Berth or
 * the operator left world-readable. The server makes it 0700 and its secret files 0600 at every start.
 */
describe('attack: read a pre-existing data dir another user can open', () => {
  const berth = new BerthHarness();
  const modeOf = (rel: string) => fs.statSync(path.join(berth.dataDir, rel)).mode & 0o777;

  beforeAll(async () => {
    await berth.start();
    // A deploy over HTTPS makes the local CA and its key exist.
    const up = await berth.cli(['up', berth.app('static-site'), '-p', 'site', '-s', 'web']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    await berth.stopDaemon();
    fs.chmodSync(berth.dataDir, 0o755);
    for (const f of ['admin-token', 'state.db', 'ca/ca.key'])
      fs.chmodSync(path.join(berth.dataDir, f), 0o644);
    fs.chmodSync(path.join(berth.dataDir, 'ca'), 0o755);
    await berth.startDaemon();
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('makes the data dir 0700 and the files holding secrets 0600 again', () => {
    expect(modeOf('.')).toBe(0o700);
    expect(modeOf('admin-token')).toBe(0o600);
    expect(modeOf('state.db')).toBe(0o600);
    expect(modeOf('ca')).toBe(0o700);
    expect(modeOf('ca/ca.key')).toBe(0o600);
  });
});
