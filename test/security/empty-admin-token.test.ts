import fs from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness } from '../helpers/berth.js';

/**
 * Attack: an `admin-token` file left empty (a failed provisioning script, `> admin-token`) made the
 * admin token the empty string, and an empty bearer matched it: the whole API without a token. Now a
 * real `berth server` refuses to start on a missing, empty or short token, and the API never takes an
 * empty bearer.
 */
describe('an empty admin-token file', () => {
  const berth = new BerthHarness();
  let tokenFile: string;
  let good: string;

  /** Starts the daemon expecting it to refuse; returns what it logged. */
  const refusal = async (): Promise<string> => {
    const err = await berth.startDaemon().then(
      () => null,
      (e: Error) => e,
    );
    expect(err, 'the server started').not.toBeNull();
    expect(berth.daemon?.exitCode).not.toBe(0);
    return err?.message ?? '';
  };
  const status = async (authorization?: string) => {
    const res = await request(`${berth.url}/v1/projects`, {
      headers: authorization === undefined ? {} : { authorization },
    });
    await res.body.dump();
    return res.statusCode;
  };

  beforeAll(async () => {
    await berth.start();
    tokenFile = path.join(berth.dataDir, 'admin-token');
    good = berth.token;
    // A new data dir gets a strong generated token, readable by its owner only.
    expect(good.length).toBeGreaterThanOrEqual(32);
    expect(fs.statSync(tokenFile).mode & 0o777).toBe(0o600);
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('never accepts an empty bearer or an empty Basic password', async () => {
    expect(await status(`Bearer ${good}`)).toBe(200);
    expect(await status('Bearer ')).toBe(401);
    expect(await status('Bearer')).toBe(401);
    expect(await status(`Basic ${Buffer.from('berth:').toString('base64')}`)).toBe(401);
    expect(await status()).toBe(401);
  });

  it('refuses to start with an empty token file, naming the file and what to do', async () => {
    await berth.stopDaemon();
    fs.writeFileSync(tokenFile, '');
    const log = await refusal();
    expect(log).toContain(
      `${tokenFile} is empty, which anyone could guess; write a new token of at least 32 characters into it`,
    );
    fs.writeFileSync(tokenFile, '  \n');
    expect(await refusal()).toContain(`${tokenFile} is empty`);
  });

  it('refuses a short token', async () => {
    fs.writeFileSync(tokenFile, 'hunter2\n');
    expect(await refusal()).toContain(`${tokenFile} holds only 7 characters, which anyone could guess`);
  });

  it('refuses a token file missing from a data dir that already holds state, rather than minting one', async () => {
    fs.rmSync(tokenFile);
    expect(await refusal()).toContain(
      `${tokenFile} is missing, but ${berth.dataDir} already holds Berth's state`,
    );
    expect(fs.existsSync(tokenFile)).toBe(false);
  });

  it('starts again once a strong token is back, and takes only that token', async () => {
    fs.writeFileSync(tokenFile, `${good}\n`, { mode: 0o600 });
    await berth.startDaemon();
    expect(await status(`Bearer ${good}`)).toBe(200);
    expect(await status('Bearer ')).toBe(401);
  });
});
