import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness } from '../helpers/berth.js';

/** A failed deployment's reason names the cause, in `berth up` and `berth deployments` alike. */
describe('build and crash errors that name the cause', () => {
  const berth = new BerthHarness();
  beforeAll(async () => {
    await berth.start();
  });
  afterAll(async () => {
    await berth.stop();
  });

  const reasonOf = async (service: string) => {
    const [latest] = await berth.settledDeployments(['-p', 'shop', '-s', service]);
    expect(latest.status).toBe('FAILED');
    return latest.reason ?? '';
  };

  it('an app that throws at start: the exception, not its stack', async () => {
    const up = await berth.cli(['up', berth.app('crash-at-start'), '-p', 'shop', '-s', 'crash']);
    expect(up.code).not.toBe(0);
    const cause =
      'replica 0 exited with code 1 before it became healthy: Error: Missing environment variables: DATABASE_URL, SESSION_SECRET';
    expect(up.stdout + up.stderr).toContain(`Deployment failed: ${cause}`);
    const reason = await reasonOf('crash');
    expect(reason).toBe(cause);
    const table = await berth.cli(['deployments', '-p', 'shop', '-s', 'crash']);
    expect(table.stdout).toContain('Missing environment variables: DATABASE_URL, SESSION_SECRET');
    expect(table.stdout).not.toContain('Module._compile');
  });

  it("a failed npm install: npm's error lines, not the log file's path", async () => {
    const up = await berth.cli(['up', berth.app('npm-missing-package'), '-p', 'shop', '-s', 'typo']);
    expect(up.code).not.toBe(0);
    const reason = await reasonOf('typo');
    expect(reason).toMatch(
      /^"npm install" exited with code 1: npm error 404 Not Found - GET https:\/\/\S+\/expresss-berth-typo-no-such-package/,
    );
    expect(reason).not.toContain('A complete log of this run');
    expect(up.stdout + up.stderr).toContain(reason);
  });
});
