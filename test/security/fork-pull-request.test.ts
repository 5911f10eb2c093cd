import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signBody } from '../../src/webhooks/signature.js';
import { BerthHarness, FIXTURES } from '../helpers/berth.js';

interface Hook {
  status: number;
  body: Record<string, unknown>;
}

/**
 * Attack: anyone with a GitHub account forks the tracked repository and opens a pull request; GitHub sends
 * the project's signed pull_request event, and before the fix Berth fetched the fork's code and built it in
 * a preview holding copies of production's variables. Now a fork's pull request creates nothing unless the
 * project opted in, and then its preview gets no variables at all. Real signed webhooks, a real server, and
 * bare repositories on disk standing in for the tracked repository and the fork.
 */
describe('a pull request from a fork', () => {
  const berth = new BerthHarness();
  const project = 'forked';
  const secret = 'a-webhook-secret-for-fork-tests';
  const prodSecret = 'production-database-password';
  let origin: string;
  let fork: string;
  let work: string;
  let forkSha: string;
  let ownSha: string;

  const git = (args: string[], cwd = work): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile(
        'git',
        ['-c', 'user.name=Fork Author', '-c', 'user.email=fork@example.com', ...args],
        { cwd, env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: berth.dir } },
        (err, stdout, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve(stdout.trim())),
      );
    });
  const hook = async (event: string, payload: unknown): Promise<Hook> => {
    const body = JSON.stringify(payload);
    const res = await request(`${berth.url}/v1/webhooks/github?project=${project}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': event,
        'x-hub-signature-256': signBody(secret, body),
      },
      body,
    });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  };
  const commitVersion = async (version: string): Promise<string> => {
    const server = path.join(work, 'server.js');
    fs.writeFileSync(server, fs.readFileSync(server, 'utf8').replace(/\|\| '[^']*'/, `|| '${version}'`));
    await git(['commit', '-qam', `version ${version}`]);
    return git(['rev-parse', 'HEAD']);
  };
  const pullRequest = (number: number, head: { ref: string; sha: string; url: string; name: string }) => ({
    action: 'opened',
    number,
    pull_request: {
      number,
      head: { ref: head.ref, sha: head.sha, repo: { full_name: head.name, clone_url: head.url } },
      base: { ref: 'main', repo: { full_name: 'owner/app', clone_url: origin } },
    },
    repository: { full_name: 'owner/app', clone_url: origin, default_branch: 'main' },
  });
  const environments = async () =>
    (
      JSON.parse((await berth.cli(['environment', 'list', '--json', '-p', project])).stdout) as {
        name: string;
      }[]
    ).map((e) => e.name);
  const projectRepoHas = async (sha: string) =>
    git(['cat-file', '-e', `${sha}^{commit}`], path.join(berth.dataDir, 'git', `${project}.git`)).then(
      () => true,
      () => false,
    );

  beforeAll(async () => {
    await berth.start();
    origin = path.join(berth.dir, 'origin.git');
    fork = path.join(berth.dir, 'fork.git');
    work = path.join(berth.dir, 'work');
    await git(['init', '-q', '--bare', '-b', 'main', origin], berth.dir);
    await git(['init', '-q', '--bare', '-b', 'main', fork], berth.dir);
    fs.cpSync(path.join(FIXTURES, 'lifecycle'), work, { recursive: true });
    await git(['init', '-q', '-b', 'main']);
    await git(['add', '.']);
    await git(['commit', '-qm', 'first']);
    await git(['push', '-q', origin, 'main']);
    // The tracked repository's own branch, and the attacker's fork with code of its own.
    await git(['checkout', '-q', '-b', 'own-feature']);
    ownSha = await commitVersion('own-code');
    await git(['push', '-q', origin, 'own-feature']);
    await git(['checkout', '-q', '-b', 'evil', 'main']);
    forkSha = await commitVersion('fork-code');
    await git(['push', '-q', fork, 'evil']);
    for (const args of [
      ['init', '--name', project],
      ['add', '-p', project, '--service', 'web', '--repo', origin],
      ['webhook', '-p', project, '--secret', secret],
      ['variables', 'set', `DB_PASSWORD=${prodSecret}`, '--skip-deploys', '-p', project, '-s', 'web'],
    ]) {
      const r = await berth.cli(args, { cwd: berth.dir });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('is skipped by default: 202 saying how to opt in, nothing fetched, no environment', async () => {
    const res = await hook(
      'pull_request',
      pullRequest(9, { ref: 'evil', sha: forkSha, url: fork, name: 'attacker/app' }),
    );
    expect(res.status).toBe(202);
    expect(res.body.ignored).toBe(
      'skipped: pull request from a fork; enable with berth webhook --fork-prs build',
    );
    expect(await environments()).toEqual(['production']);
    expect(await projectRepoHas(forkSha)).toBe(false);
  });

  it('is skipped by default from GitLab too (source project is not the target project)', async () => {
    const body = JSON.stringify({
      object_kind: 'merge_request',
      object_attributes: {
        iid: 11,
        action: 'open',
        source_branch: 'evil',
        target_branch: 'main',
        source_project_id: 999,
        target_project_id: 1,
        last_commit: { id: forkSha },
        source: { git_http_url: fork },
        target: { git_http_url: origin },
      },
      project: { git_http_url: origin, default_branch: 'main' },
    });
    const res = await request(`${berth.url}/v1/webhooks/gitlab?project=${project}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-gitlab-event': 'Merge Request Hook',
        'x-gitlab-token': secret,
      },
      body,
    });
    expect(res.statusCode).toBe(202);
    expect(((await res.body.json()) as { ignored: string }).ignored).toMatch(/from a fork/);
    expect(await environments()).toEqual(['production']);
  });

  it('still previews pull requests of the repository itself with copied variables', async () => {
    const res = await hook(
      'pull_request',
      pullRequest(10, { ref: 'own-feature', sha: ownSha, url: origin, name: 'owner/app' }),
    );
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body).toMatchObject({ environment: 'pr-10', environmentCreated: true });
    const [d] = await berth.settledDeployments(['-p', project, '-e', 'pr-10', '-s', 'web']);
    expect(d.status, d.reason ?? '').toBe('SUCCESS');
    const env = JSON.parse((await berth.get(berth.hostFor('web', project, 'pr-10'), '/env')).body);
    expect(env.DB_PASSWORD).toBe(prodSecret);
  });

  it('when opted in, builds the fork in a preview without any of production’s variables', async () => {
    const set = await berth.cli(['webhook', '-p', project, '--fork-prs', 'build']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/Pull requests from forks: built/);
    const bad = await berth.cli(['webhook', '-p', project, '--fork-prs', 'always']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--fork-prs takes "build" or "skip"/);

    const res = await hook(
      'pull_request',
      pullRequest(9, { ref: 'evil', sha: forkSha, url: fork, name: 'attacker/app' }),
    );
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body).toMatchObject({ environment: 'pr-9', environmentCreated: true });
    const [d] = await berth.settledDeployments(['-p', project, '-e', 'pr-9', '-s', 'web']);
    expect(d.status, d.reason ?? '').toBe('SUCCESS');
    const host = berth.hostFor('web', project, 'pr-9');
    expect((await berth.get(host, '/')).body).toBe('fork-code');
    const env = JSON.parse((await berth.get(host, '/env')).body);
    expect(env.DB_PASSWORD).toBeUndefined();
    expect(JSON.stringify(env)).not.toContain(prodSecret);
    const vars = await berth.cli(['variables', '--json', '-p', project, '-e', 'pr-9', '-s', 'web']);
    expect(JSON.parse(vars.stdout)).toEqual({});
    // Production is untouched.
    const prod = await berth.cli(['variables', '--json', '-p', project, '-s', 'web']);
    expect(JSON.parse(prod.stdout)).toMatchObject({ DB_PASSWORD: prodSecret });
  });

  it('never deploys a fork into a preview that holds copied variables', async () => {
    // Same number as the repository's own preview (another tracked repository's pull request, say).
    const res = await hook(
      'pull_request',
      pullRequest(10, { ref: 'evil', sha: forkSha, url: fork, name: 'attacker/app' }),
    );
    expect(res.status).toBe(202);
    expect(res.body.ignored).toMatch(/pr-10 was made for a pull request of the repository itself/);
    const list = await berth.settledDeployments(['-p', project, '-e', 'pr-10', '-s', 'web']);
    expect(list).toHaveLength(1);
    expect((await berth.get(berth.hostFor('web', project, 'pr-10'), '/')).body).toBe('own-code');
  });
});
