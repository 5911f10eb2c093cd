import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness } from '../helpers/berth.js';

interface GitResult {
  code: number;
  output: string;
}

/**
 * Attack (on resources): push branch after branch whose deployments fail; each push was rejected but left
 * its preview environment `br-<branch>` behind, empty, with its rows, names and hooks. Now a preview made
 * for a push that deployed nothing is removed once its deployments ended; a preview that had served before
 * is kept. Real `git push` to a real server.
 */
describe('a rejected push of a new branch', () => {
  const berth = new BerthHarness();
  const project = 'rejects';
  let repo: string;

  const git = (args: string[]): Promise<GitResult> =>
    new Promise((resolve) => {
      execFile(
        'git',
        ['-c', 'user.name=Ada Pusher', '-c', 'user.email=ada@example.com', ...args],
        {
          cwd: repo,
          timeout: 180_000,
          env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', HOME: berth.dir },
        },
        (err, stdout, stderr) =>
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, output: stdout + stderr }),
      );
    });
  const push = (branch: string) =>
    git(['push', `http://x:${berth.token}@127.0.0.1:${berth.apiPort}/git/${project}.git`, branch]);
  const environments = async () =>
    (
      JSON.parse((await berth.cli(['environment', 'list', '--json', '-p', project])).stdout) as {
        name: string;
      }[]
    ).map((e) => e.name);
  const toml = () => path.join(repo, 'railway.toml');
  const breakConfig = async (message: string) => {
    fs.writeFileSync(
      toml(),
      fs.readFileSync(toml(), 'utf8').replace('healthcheckTimeout = 4', 'healthcheckTimeout = "soon"'),
    );
    expect((await git(['commit', '-qam', message])).code).toBe(0);
  };
  const fixConfig = async () => {
    fs.writeFileSync(
      toml(),
      fs.readFileSync(toml(), 'utf8').replace('healthcheckTimeout = "soon"', 'healthcheckTimeout = 4'),
    );
    expect((await git(['commit', '-qam', 'fix config'])).code).toBe(0);
  };

  beforeAll(async () => {
    await berth.start();
    repo = berth.app('lifecycle', 'rejects');
    expect((await berth.cli(['init', '--name', project], { cwd: repo })).code).toBe(0);
    for (const args of [
      ['init', '-q', '-b', 'main'],
      ['add', '.'],
      ['commit', '-qm', 'first'],
    ]) {
      expect((await git(args)).code).toBe(0);
    }
    const main = await push('main');
    expect(main.code, main.output).toBe(0);
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('leaves no preview environment behind, but keeps the commit', async () => {
    expect((await git(['checkout', '-q', '-b', 'broken'])).code).toBe(0);
    await breakConfig('broken config');
    const sha = (await git(['rev-parse', 'HEAD'])).output.trim();
    const res = await push('broken');
    expect(res.code).not.toBe(0);
    expect(res.output).toContain('remote: Berth: created preview environment br-broken');
    expect(res.output).toContain(
      'remote: Berth: removed preview environment br-broken again, since nothing deployed to it',
    );
    await waitFor('the empty preview to be removed', async () =>
      (await environments()).includes('br-broken') ? null : true,
    );
    expect(await environments()).toEqual(['production']);
    const remote = await git([
      'ls-remote',
      `http://x:${berth.token}@127.0.0.1:${berth.apiPort}/git/${project}.git`,
      'refs/heads/broken',
    ]);
    expect(remote.output).toContain(sha);
  });

  it('creates the preview again on the next push, which deploys', async () => {
    await fixConfig();
    const res = await push('broken');
    expect(res.code, res.output).toBe(0);
    expect(await environments()).toEqual(['production', 'br-broken']);
    expect((await berth.get(berth.hostFor(project, project, 'br-broken'), '/')).body).toBe('v1');
  });

  it('keeps a preview that served before when a later push to it is rejected', async () => {
    await breakConfig('broken again');
    const res = await push('broken');
    expect(res.code).not.toBe(0);
    expect(res.output).not.toContain('removed preview');
    const list = await berth.settledDeployments(['-p', project, '-e', 'br-broken', '-s', project]);
    expect(list.map((d) => d.status)).toEqual(['FAILED', 'SUCCESS']);
    expect(await environments()).toEqual(['production', 'br-broken']);
    expect((await berth.get(berth.hostFor(project, project, 'br-broken'), '/')).body).toBe('v1');
  });
});
