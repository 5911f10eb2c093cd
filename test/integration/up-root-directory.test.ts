import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness } from '../helpers/berth.js';

/**
 * `berth up` of a pnpm-workspace monorepo: each service builds from its own root directory and reads its
 * own config path, as a git push does, whichever directory of the linked repository it is run from.
 */
describe('berth up honours root directory and config path', () => {
  const berth = new BerthHarness();
  const project = 'shop';
  let repo: string;
  const served = async (service: string) => {
    const res = await berth.get(berth.hostFor(service, project));
    expect(res.status).toBe(200);
    return JSON.parse(res.body) as { service: string; page?: string; files: string[] };
  };

  beforeAll(async () => {
    await berth.start();
    repo = berth.app('monorepo-pnpm');
    for (const args of [
      ['init', '--name', project],
      ['add', '--service', 'web', '--root-directory', 'web'],
      ['add', '--service', 'api', '--root-directory', '/api/', '--config-path', 'api/railway.api.toml'],
    ]) {
      const r = await berth.cli(args, { cwd: repo });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('builds web from web/ when run at the repository root', async () => {
    const up = await berth.cli(['up', '-s', 'web'], { cwd: repo });
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(up.stdout).not.toContain("linked project's directory");
    const web = await served('web');
    expect(web).toMatchObject({ service: 'web', page: 'home' });
    // Only the service's directory is the app: no workspace files from the root.
    expect(web.files).toContain('server.js');
    expect(web.files).not.toContain('pnpm-workspace.yaml');
  });

  it("uploads the linked directory from a subdirectory and applies api's root and config path", async () => {
    const up = await berth.cli(['up', '-s', 'api'], { cwd: path.join(repo, 'web') });
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(up.stdout).toContain(`Uploading the linked project's directory ${repo}`);
    const api = await served('api');
    expect(api.service).toBe('api');
    expect(api.files).toContain('main.js');
    expect(api.files).not.toContain('web');
    expect(api.files).not.toContain('pnpm-workspace.yaml');
    const logs = await berth.cli(['logs', '--build', '-p', project, '-s', 'api', '-n', '200']);
    expect(logs.stdout).toContain('Using api/railway.api.toml');
  });

  it('a root directory missing from the upload fails in one sentence and keeps the old build serving', async () => {
    const up = await berth.cli(['up', '--path-as-root', '-s', 'web'], { cwd: path.join(repo, 'web') });
    expect(up.code).not.toBe(0);
    expect(up.stdout + up.stderr).toContain(
      'the root directory "web" does not exist in the uploaded directory; run `berth up` from the repository root',
    );
    expect((await served('web')).service).toBe('web');
  });
});
