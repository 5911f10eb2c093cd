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

// `npm test` builds dist/ first (the repo hook runs dist/git/proc-receive.js).
describe('git push deploys through the Berth git server', () => {
  const berth = new BerthHarness();
  let repo: string;
  const project = 'pushy';

  const git = (args: string[], cwd = repo): Promise<GitResult> =>
    new Promise((resolve) => {
      execFile(
        'git',
        ['-c', 'user.name=Ada Pusher', '-c', 'user.email=ada@example.com', ...args],
        {
          cwd,
          timeout: 180_000,
          maxBuffer: 16 * 1024 * 1024,
          env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', HOME: berth.dir },
        },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          resolve({ code, output: stdout + stderr });
        },
      );
    });
  const remote = (token: string) => `http://x:${token}@127.0.0.1:${berth.apiPort}/git/${project}.git`;

  beforeAll(async () => {
    await berth.start();
    repo = berth.app('lifecycle', 'git-app');
    const init = await berth.cli(['init', '--name', project], { cwd: repo });
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain(`git remote add berth ${berth.url}/git/${project}.git`);
    for (const args of [
      ['init', '-q', '-b', 'main'],
      ['add', '.'],
      ['commit', '-qm', 'first version'],
    ]) {
      const r = await git(args);
      expect(r.code, r.output).toBe(0);
    }
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('deploys main and exposes the commit to the app', async () => {
    const sha = (await git(['rev-parse', 'HEAD'])).output.trim();
    const push = await git(['push', remote(berth.token), 'main']);
    expect(push.code, push.output).toBe(0);
    expect(push.output).toMatch(/remote: .*Berth: deploying/);
    expect(push.output).toMatch(/remote: .*starting v1/);
    expect(push.output).toContain('remote: Berth: SUCCESS');
    const env = JSON.parse((await berth.get(berth.hostFor(project, project), '/env')).body);
    expect(env.RAILWAY_GIT_COMMIT_SHA).toBe(sha);
    expect(env.BERTH_GIT_COMMIT_SHA).toBe(sha);
    expect(env.RAILWAY_GIT_BRANCH).toBe('main');
    expect(env.RAILWAY_GIT_AUTHOR).toBe('Ada Pusher');
    expect(env.RAILWAY_GIT_COMMIT_MESSAGE).toBe('first version');
  });

  it('fails the push when the deployment fails, keeps the commit and the old version', async () => {
    const toml = path.join(repo, 'railway.toml');
    fs.writeFileSync(
      toml,
      fs.readFileSync(toml, 'utf8').replace('healthcheckTimeout = 4', 'healthcheckTimeout = "soon"'),
    );
    const commit = await git(['commit', '-qam', 'broken config']);
    expect(commit.code, commit.output).toBe(0);
    const sha = (await git(['rev-parse', 'HEAD'])).output.trim();
    const push = await git(['push', remote(berth.token), 'main']);
    expect(push.code, push.output).not.toBe(0);
    expect(push.output).toMatch(/remote: .*FAILED/);
    expect(push.output).toMatch(/healthcheckTimeout/);
    expect(push.output).toMatch(/\[remote rejected\] main -> main \(deployment FAILED/);
    const serving = await berth.get(berth.hostFor(project, project), '/env');
    expect(JSON.parse(serving.body).RAILWAY_GIT_COMMIT_MESSAGE).toBe('first version');
    const ls = await git(['ls-remote', remote(berth.token), 'refs/heads/main']);
    expect(ls.code, ls.output).toBe(0);
    expect(ls.output).toContain(sha);
  });

  it('deploys a feature branch to its own preview environment, production unchanged', async () => {
    const vars = [
      ['variables', 'set', 'GREETING=hello', '--skip-deploys', '-p', project, '-s', project],
      ['variables', 'set', 'TOKEN=sealed-value', '--sealed', '--skip-deploys', '-p', project, '-s', project],
    ];
    for (const args of vars) {
      const r = await berth.cli(args);
      expect(r.code, r.stderr).toBe(0);
    }
    // Branch off the last good commit (main's tip has the broken config).
    expect((await git(['checkout', '-q', '-b', 'feature/Login', 'HEAD~1'])).code).toBe(0);
    const server = path.join(repo, 'server.js');
    fs.writeFileSync(server, fs.readFileSync(server, 'utf8').replace("|| 'v1'", "|| 'feature-v1'"));
    fs.appendFileSync(path.join(repo, 'railway.toml'), '\n[environments.pr.deploy]\ndrainingSeconds = 1\n');
    expect((await git(['commit', '-qam', 'login page'])).code).toBe(0);
    const sha = (await git(['rev-parse', 'HEAD'])).output.trim();

    const push = await git(['push', remote(berth.token), 'feature/Login']);
    expect(push.code, push.output).toBe(0);
    expect(push.output).toContain(
      'remote: Berth: created preview environment br-feature-login for branch feature/Login',
    );
    const host = berth.hostFor(project, project, 'br-feature-login');
    expect(push.output).toContain(`http://${host}:${berth.httpPort}`);
    expect((await berth.get(host, '/')).body).toBe('feature-v1');
    const env = JSON.parse((await berth.get(host, '/env')).body);
    expect(env.RAILWAY_GIT_BRANCH).toBe('feature/Login');
    expect(env.RAILWAY_ENVIRONMENT_NAME).toBe('br-feature-login');
    expect(env.GREETING).toBe('hello');
    expect(env.TOKEN).toBeUndefined();
    expect((await berth.get(berth.hostFor(project, project), '/')).body).toBe('v1');

    const scope = ['-p', project, '-e', 'br-feature-login', '-s', project];
    const [d] = await berth.settledDeployments(scope);
    expect(d).toMatchObject({
      status: 'SUCCESS',
      gitSha: sha,
      gitBranch: 'feature/Login',
      gitMessage: 'login page',
    });
    const table = await berth.cli(['deployments', ...scope]);
    expect(table.stdout).toContain(`${sha.slice(0, 7)} feature/Login "login page"`);
    const detail = await berth.cli(['deployments', '--json', ...scope]);
    expect(detail.code).toBe(0);
    const envs = JSON.parse((await berth.cli(['environment', 'list', '--json', '-p', project])).stdout);
    expect(envs).toContainEqual(
      expect.objectContaining({ name: 'br-feature-login', kind: 'preview', branch: 'feature/Login' }),
    );
    const res = await fetch(`${berth.url}/v1/deployments/${d.id}`, {
      headers: { authorization: `Bearer ${berth.token}` },
    });
    const full = (await res.json()) as {
      config: { deploy: { drainingSeconds: number } };
      configOrigins: Record<string, unknown>;
    };
    expect(full.config.deploy.drainingSeconds).toBe(1);
    expect(full.configOrigins['deploy.drainingSeconds']).toMatchObject({
      source: 'override',
      environment: 'pr',
    });
  });

  it('tears the preview down when its branch is deleted', async () => {
    const host = berth.hostFor(project, project, 'br-feature-login');
    const push = await git(['push', remote(berth.token), ':feature/Login']);
    expect(push.code, push.output).toBe(0);
    expect(push.output).toMatch(
      /remote: Berth: deleted preview environment br-feature-login \(\d+ deployments, \d+ files freed\)/,
    );
    expect((await berth.get(host, '/')).status).toBe(404);
    const envs = JSON.parse((await berth.cli(['environment', 'list', '--json', '-p', project])).stdout) as {
      name: string;
    }[];
    expect(envs.map((e) => e.name)).toEqual(['production']);
    expect((await berth.get(berth.hostFor(project, project), '/')).body).toBe('v1');
  });

  it('deploys a branch named like an existing environment to that environment', async () => {
    const created = await berth.cli(['environment', 'new', 'staging', '-p', project]);
    expect(created.code, created.stderr).toBe(0);
    expect((await git(['checkout', '-q', '-b', 'staging', 'HEAD~1'])).code).toBe(0);
    const push = await git(['push', remote(berth.token), 'staging']);
    expect(push.code, push.output).toBe(0);
    expect(push.output).toContain(`to ${project}/staging, service ${project}`);
    expect(push.output).not.toContain('preview environment');
    const env = JSON.parse((await berth.get(berth.hostFor(project, project, 'staging'), '/env')).body);
    expect(env.RAILWAY_GIT_BRANCH).toBe('staging');
    const envs = JSON.parse((await berth.cli(['environment', 'list', '--json', '-p', project])).stdout) as {
      name: string;
    }[];
    expect(envs.map((e) => e.name)).toEqual(['production', 'staging']);
  });

  it('deploys two quick pushes of one branch in the order they arrived', async () => {
    expect((await git(['checkout', '-q', '-b', 'race', 'HEAD'])).code).toBe(0);
    const server = path.join(repo, 'server.js');
    const commitVersion = async (v: string) => {
      fs.writeFileSync(server, fs.readFileSync(server, 'utf8').replace(/\|\| '[^']*'/, `|| '${v}'`));
      expect((await git(['commit', '-qam', v])).code).toBe(0);
      return (await git(['rev-parse', 'HEAD'])).output.trim();
    };
    const first = await commitVersion('race-1');
    const pushing = git(['push', remote(berth.token), 'race']);
    // The hook stores the ref before it deploys: push the next commit while the first one deploys.
    await waitFor('the first push to be stored', async () =>
      (await git(['ls-remote', remote(berth.token), 'refs/heads/race'])).output.includes(first),
    );
    const second = await commitVersion('race-2');
    const [a, b] = await Promise.all([pushing, git(['push', remote(berth.token), 'race'])]);
    expect(a.code, a.output).toBe(0);
    expect(b.code, b.output).toBe(0);
    const list = await berth.settledDeployments(['-p', project, '-e', 'br-race', '-s', project]);
    expect(list.map((d) => d.gitSha)).toEqual([second, first]);
    expect((await berth.get(berth.hostFor(project, project, 'br-race'), '/')).body).toBe('race-2');
    const del = await git(['push', remote(berth.token), ':race']);
    expect(del.code, del.output).toBe(0);
  });

  it('rejects a push with a wrong token and deploys nothing', async () => {
    const before = await berth.settledDeployments(['-p', project, '-s', project]);
    const push = await git(['push', remote('wrong-token'), 'main']);
    expect(push.code).not.toBe(0);
    expect(push.output).toMatch(/401|Authentication failed/);
    const after = await berth.settledDeployments(['-p', project, '-s', project]);
    expect(after).toHaveLength(before.length);
  });

  it('answers 404 for an unknown project', async () => {
    const ls = await git(['ls-remote', `http://x:${berth.token}@127.0.0.1:${berth.apiPort}/git/nope.git`]);
    expect(ls.code).not.toBe(0);
    expect(ls.output).toMatch(/not found|404/i);
  });

  it('shows a failed build in the push output and exits non-zero', async () => {
    expect((await git(['checkout', '-q', '-b', 'broken-build', 'race'])).code).toBe(0);
    fs.appendFileSync(
      path.join(repo, 'railway.toml'),
      // The build dies with an uncaught exception and its stack: the push shows the exception, not the stack.
      '\n[build]\nbuildCommand = \'echo compiling the app; node -e "const config = null; config.port"\'\n',
    );
    expect((await git(['commit', '-qam', 'build breaks'])).code).toBe(0);
    const push = await git(['push', remote(berth.token), 'broken-build']);
    expect(push.code, push.output).not.toBe(0);
    expect(push.output).toContain('remote: compiling the app');
    expect(push.output).toMatch(
      /remote: Berth: FAILED: .*exited with code 1: TypeError: Cannot read properties of null \(reading 'port'\)/,
    );
    expect(push.output).toMatch(/\[remote rejected\] broken-build -> broken-build \(deployment FAILED/);
    expect((await berth.get(berth.hostFor(project, project), '/')).body).toBe('v1');
    expect((await git(['push', remote(berth.token), ':broken-build'])).code).toBe(0);
  });
});
