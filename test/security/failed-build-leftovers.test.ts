import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness, type DeploymentRow } from '../helpers/berth.js';

/** Failed builds used to leave their whole tree (sources, build output) in artifacts/<id>/ forever. */
describe('the tree of a failed build', () => {
  const berth = new BerthHarness();
  const scope = ['-p', 'fail', '-s', 'web'];
  beforeAll(async () => {
    await berth.start();
  });
  afterAll(async () => {
    await berth.stop();
  });

  const artifact = (id: string) => path.join(berth.dataDir, 'artifacts', id);

  function appWithBuild(name: string, buildCommand: string): string {
    const dir = berth.app('lifecycle', name);
    const toml = fs.readFileSync(path.join(dir, 'railway.toml'), 'utf8');
    fs.writeFileSync(
      path.join(dir, 'railway.toml'),
      `[build]\nbuildCommand = ${JSON.stringify(buildCommand)}\n\n${toml}`,
    );
    return dir;
  }

  async function deployments(): Promise<DeploymentRow[]> {
    return JSON.parse((await berth.cli(['deployments', '--json', ...scope])).stdout) as DeploymentRow[];
  }

  it('is removed when the build fails; its log and the serving build stay', async () => {
    const good = await berth.cli(['up', appWithBuild('good', 'echo fine'), ...scope]);
    expect(good.code, good.stdout + good.stderr).toBe(0);
    const [serving] = await berth.settledDeployments(scope);

    const bad = appWithBuild('bad', 'head -c 5000000 /dev/zero > junk.bin; echo about to fail; exit 3');
    const up = await berth.cli(['up', bad, ...scope]);
    expect(up.code).not.toBe(0);
    const [failed] = await berth.settledDeployments(scope);
    expect(failed.status).toBe('FAILED');
    await waitFor('the failed tree to be removed', () => !fs.existsSync(artifact(failed.id)));

    const log = await berth.cli(['logs', failed.id, '--build', ...scope]);
    expect(log.stdout).toContain('about to fail');
    expect(fs.existsSync(path.join(artifact(serving.id), 'artifact.json'))).toBe(true);
    expect((await berth.get(berth.hostFor('web', 'fail'))).status).toBe(200);
  });

  it('is removed at start when a dead server left the deployment unfinished', async () => {
    // The build's own log says when it is under way: a sandboxed build sees a private /tmp, not the test's.
    const slow = appWithBuild('slow', 'head -c 5000000 /dev/zero > junk.bin; echo junk-written; sleep 120');
    const up = await berth.cli(['up', slow, '--detach', ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    let [building] = await deployments();
    await waitFor(
      'the build to be running',
      async () =>
        (await berth.cli(['logs', building.id, '--build', ...scope])).stdout.includes('junk-written'),
      { timeoutMs: 60_000 },
    );
    [building] = await deployments();
    expect(building.status).toBe('BUILDING');
    expect(fs.existsSync(path.join(artifact(building.id), 'app', 'junk.bin'))).toBe(true);

    await berth.killDaemon();
    await berth.startDaemon();
    const [after] = await deployments();
    expect(after.id).toBe(building.id);
    expect(after.status).toBe('FAILED');
    expect(fs.existsSync(artifact(building.id))).toBe(false);
    expect((await berth.cli(['logs', building.id, '--build', ...scope])).stdout).toContain(
      'running build command',
    );
    // The serving build is untouched.
    const serving = (await deployments()).find((d) => d.status === 'SUCCESS');
    expect(serving && fs.existsSync(path.join(artifact(serving.id), 'artifact.json'))).toBe(true);
  });
});
