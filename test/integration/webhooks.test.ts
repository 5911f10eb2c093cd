import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/lib/wait.js';
import { signBody } from '../../src/webhooks/signature.js';
import { BerthHarness, FIXTURES } from '../helpers/berth.js';

interface Hook {
  status: number;
  body: Record<string, unknown>;
}

/**
 * A service tracking a remote repository (a bare repo on disk stands in for GitHub), deployed by signed
 * GitHub webhooks: push, pull_request previews, wait-for-checks, and commit statuses reported back.
 */
describe('GitHub webhooks', () => {
  const berth = new BerthHarness();
  const project = 'hooks';
  const secret = 'a-webhook-secret-for-tests';
  let origin: string;
  let work: string;
  const statuses: Record<string, unknown>[] = [];
  let statusServer: http.Server;

  const git = (args: string[], cwd = work): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile(
        'git',
        ['-c', 'user.name=Hook Author', '-c', 'user.email=hook@example.com', ...args],
        { cwd, env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: berth.dir } },
        (err, stdout, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve(stdout.trim())),
      );
    });
  const hook = async (event: string, payload: unknown, sign: string | null = secret): Promise<Hook> => {
    const body = JSON.stringify(payload);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-github-event': event };
    if (sign !== null) headers['x-hub-signature-256'] = signBody(sign, body);
    const res = await request(`${berth.url}/v1/webhooks/github?project=${project}`, {
      method: 'POST',
      headers,
      body,
    });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  };
  const commit = async (version: string, message: string): Promise<string> => {
    const server = path.join(work, 'server.js');
    fs.writeFileSync(server, fs.readFileSync(server, 'utf8').replace(/\|\| '[^']*'/, `|| '${version}'`));
    await git(['commit', '-qam', message]);
    return git(['rev-parse', 'HEAD']);
  };
  const repository = () => ({ clone_url: origin, default_branch: 'main' });
  const deployments = async (env = 'production') =>
    JSON.parse(
      (await berth.cli(['deployments', '--json', '-p', project, '-e', env, '-s', 'web'])).stdout,
    ) as {
      id: string;
      status: string;
      reason: string | null;
      gitSha: string | null;
    }[];

  beforeAll(async () => {
    statusServer = http.createServer((req, res) => {
      let text = '';
      req.on('data', (c) => {
        text += c;
      });
      req.on('end', () => {
        statuses.push(JSON.parse(text));
        res.writeHead(201).end();
      });
    });
    await new Promise<void>((r) => statusServer.listen(0, '127.0.0.1', r));
    await berth.start();
    origin = path.join(berth.dir, 'origin.git');
    work = path.join(berth.dir, 'work');
    fs.mkdirSync(origin);
    await git(['init', '-q', '--bare', '-b', 'main'], origin);
    fs.cpSync(path.join(FIXTURES, 'lifecycle'), work, { recursive: true });
    await git(['init', '-q', '-b', 'main']);
    await git(['add', '.']);
    await git(['commit', '-qm', 'first']);
    await git(['remote', 'add', 'origin', origin]);
    await git(['push', '-q', 'origin', 'main']);
    const port = (statusServer.address() as AddressInfo).port;
    for (const args of [
      ['init', '--name', project],
      ['add', '-p', project, '--service', 'web', '--repo', origin],
      ['webhook', '-p', project, '--secret', secret, '--status-url', `http://127.0.0.1:${port}/statuses`],
    ]) {
      const r = await berth.cli(args, { cwd: berth.dir });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
  });
  afterAll(async () => {
    await berth.stop();
    await new Promise((r) => statusServer.close(r));
  });

  it('rejects a push with a wrong or missing signature, and deploys nothing', async () => {
    const sha = await git(['rev-parse', 'HEAD']);
    const payload = { ref: 'refs/heads/main', before: '0'.repeat(40), after: sha, repository: repository() };
    const wrong = await hook('push', payload, 'not-the-secret-at-all');
    expect(wrong.status).toBe(401);
    expect(String((wrong.body.error as { message: string }).message)).toMatch(
      /signature is missing or wrong/,
    );
    expect((await hook('push', payload, null)).status).toBe(401);
    // A signature over other bytes does not fit this body.
    const res = await request(`${berth.url}/v1/webhooks/github?project=${project}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-hub-signature-256': signBody(secret, '{}'),
      },
      body: JSON.stringify(payload),
    });
    expect(res.statusCode).toBe(401);
    await res.body.dump();
    expect(await deployments()).toEqual([]);
  });

  it('fetches and deploys the tracked branch on a signed push', async () => {
    const sha = await git(['rev-parse', 'HEAD']);
    const res = await hook('push', {
      ref: 'refs/heads/main',
      before: '0'.repeat(40),
      after: sha,
      repository: repository(),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body).toMatchObject({ event: 'push', environment: 'production' });
    const [d] = await berth.settledDeployments(['-p', project, '-s', 'web']);
    expect(d).toMatchObject({ status: 'SUCCESS', gitSha: sha, gitBranch: 'main' });
    const env = JSON.parse((await berth.get(berth.hostFor('web', project), '/env')).body);
    expect(env.RAILWAY_GIT_COMMIT_SHA).toBe(sha);
    await waitFor('the success status report', () =>
      statuses.find((s) => s.sha === sha && s.state === 'success'),
    );
    // An untracked branch without a pull request deploys nowhere, and says so.
    const other = await hook('push', { ref: 'refs/heads/topic', after: sha, repository: repository() });
    expect(other.body.ignored).toMatch(/branch topic deploys nowhere/);
  });

  it('gives an opened pull request a preview pr-<n>, reports its URL, and removes it on close', async () => {
    await git(['checkout', '-q', '-b', 'feature']);
    const sha = await commit('pr-version', 'feature work');
    await git(['push', '-q', 'origin', 'feature']);
    const pr = (action: string) => ({
      action,
      number: 7,
      pull_request: {
        number: 7,
        head: { ref: 'feature', sha, repo: { clone_url: origin } },
        base: { ref: 'main' },
      },
      repository: repository(),
    });
    const opened = await hook('pull_request', pr('opened'));
    expect(opened.status, JSON.stringify(opened.body)).toBe(202);
    expect(opened.body).toMatchObject({ environment: 'pr-7', environmentCreated: true });
    const [d] = await berth.settledDeployments(['-p', project, '-e', 'pr-7', '-s', 'web']);
    expect(d.status).toBe('SUCCESS');
    const host = berth.hostFor('web', project, 'pr-7');
    expect((await berth.get(host, '/')).body).toBe('pr-version');
    expect((await berth.get(berth.hostFor('web', project), '/')).body).toBe('v1');
    const report = await waitFor('the preview status report', () =>
      statuses.find((s) => s.sha === sha && s.environment === 'pr-7' && s.state === 'success'),
    );
    expect(report).toMatchObject({
      target_url: `http://${host}:${berth.httpPort}`,
      context: 'berth/pr-7/web',
      branch: 'feature',
      environmentKind: 'preview',
    });

    const closed = await hook('pull_request', pr('closed'));
    expect(closed.body).toMatchObject({ deleted: 'pr-7' });
    expect((await berth.get(host, '/')).status).toBe(404);
    const envs = JSON.parse((await berth.cli(['environment', 'list', '--json', '-p', project])).stdout) as {
      name: string;
    }[];
    expect(envs.map((e) => e.name)).toEqual(['production']);
    await git(['checkout', '-q', 'main']);
  });

  it('takes GitLab-style merge request hooks, authenticated by X-Gitlab-Token', async () => {
    await git(['checkout', '-q', '-b', 'gl-feature']);
    const sha = await commit('mr-version', 'merge request work');
    await git(['push', '-q', 'origin', 'gl-feature']);
    const mr = (action: string) =>
      JSON.stringify({
        object_kind: 'merge_request',
        object_attributes: {
          iid: 12,
          action,
          source_branch: 'gl-feature',
          target_branch: 'main',
          last_commit: { id: sha },
          source: { git_http_url: origin },
        },
        project: { git_http_url: origin, default_branch: 'main' },
      });
    const send = async (action: string, token: string) => {
      const res = await request(`${berth.url}/v1/webhooks/gitlab?project=${project}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-gitlab-event': 'Merge Request Hook',
          'x-gitlab-token': token,
        },
        body: mr(action),
      });
      return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
    };
    expect((await send('open', 'wrong-token')).status).toBe(401);
    expect(
      JSON.parse((await berth.cli(['environment', 'list', '--json', '-p', project])).stdout),
    ).toHaveLength(1);
    const opened = await send('open', secret);
    expect(opened.body).toMatchObject({ environment: 'pr-12', environmentCreated: true });
    const [d] = await berth.settledDeployments(['-p', project, '-e', 'pr-12', '-s', 'web']);
    expect(d.status).toBe('SUCCESS');
    expect((await berth.get(berth.hostFor('web', project, 'pr-12'), '/')).body).toBe('mr-version');
    expect((await send('merge', secret)).body).toMatchObject({ deleted: 'pr-12' });
    expect((await berth.get(berth.hostFor('web', project, 'pr-12'), '/')).status).toBe(404);
    await git(['checkout', '-q', 'main']);
  });

  it('holds deployments in WAITING until checks pass, and skips them when checks fail', async () => {
    const set = await berth.cli(['service', 'update', '-p', project, '-s', 'web', '--wait-for-checks']);
    expect(set.code, set.stderr).toBe(0);
    const before = await git(['rev-parse', 'HEAD']);
    const failing = await commit('v-failing', 'breaks the tests');
    await git(['push', '-q', 'origin', 'main']);
    const push1 = await hook('push', {
      ref: 'refs/heads/main',
      before,
      after: failing,
      repository: repository(),
    });
    expect(push1.status).toBe(202);
    expect((await deployments())[0]).toMatchObject({ status: 'WAITING', gitSha: failing });
    await waitFor('the pending status report', () =>
      statuses.find((s) => s.sha === failing && s.state === 'pending'),
    );
    const failed = await hook('status', {
      sha: failing,
      state: 'failure',
      context: 'ci/tests',
      description: '3 failed',
    });
    expect(failed.body).toMatchObject({ skipped: [expect.any(String)] });
    const [skipped] = await deployments();
    expect(skipped.status).toBe('SKIPPED');
    expect(skipped.reason).toBe('checks did not pass: commit status "ci/tests" is failure: 3 failed');
    expect((await berth.get(berth.hostFor('web', project), '/')).body).toBe('v1');

    const passing = await commit('v-passing', 'fixes the tests');
    await git(['push', '-q', 'origin', 'main']);
    await hook('push', { ref: 'refs/heads/main', before: failing, after: passing, repository: repository() });
    expect((await deployments())[0]).toMatchObject({ status: 'WAITING', gitSha: passing });
    expect((await berth.get(berth.hostFor('web', project), '/')).body).toBe('v1');
    const ok = await hook('check_suite', {
      action: 'completed',
      check_suite: { head_sha: passing, conclusion: 'success', app: { name: 'GitHub Actions' } },
    });
    expect(ok.body).toMatchObject({ released: [expect.any(String)] });
    const [released] = await berth.settledDeployments(['-p', project, '-s', 'web']);
    expect(released).toMatchObject({ status: 'SUCCESS', gitSha: passing });
    expect((await berth.get(berth.hostFor('web', project), '/')).body).toBe('v-passing');
  });
});
