import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness } from '../helpers/berth.js';

interface GitResult {
  code: number;
  output: string;
}

const SERVER = (name: string) => `const http = require('node:http');
const fs = require('node:fs');
const build = fs.existsSync('build-id.txt') ? fs.readFileSync('build-id.txt', 'utf8') : 'none';
const version = fs.readFileSync('VERSION', 'utf8').trim();
http.createServer((req, res) => res.end(JSON.stringify({ name: '${name}', build, version, cwd: process.cwd() })))
  .listen(Number(process.env.PORT), '0.0.0.0');
`;

/** One repository, three services: two share a root (and a build), one lives elsewhere. */
describe('monorepo: several services from one repository', () => {
  const berth = new BerthHarness();
  const project = 'mono';
  let repo: string;

  const git = (args: string[]): Promise<GitResult> =>
    new Promise((resolve) => {
      execFile(
        'git',
        ['-c', 'user.name=Mo Norepo', '-c', 'user.email=mo@example.com', ...args],
        {
          cwd: repo,
          timeout: 180_000,
          maxBuffer: 16 * 1024 * 1024,
          env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', HOME: berth.dir },
        },
        (err, stdout, stderr) => resolve({ code: err ? 1 : 0, output: stdout + stderr }),
      );
    });
  const remote = () => `http://x:${berth.token}@127.0.0.1:${berth.apiPort}/git/${project}.git`;
  const write = (file: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
    fs.writeFileSync(path.join(repo, file), text);
  };
  const served = async (service: string) =>
    JSON.parse((await berth.get(berth.hostFor(service, project), '/')).body) as {
      name: string;
      build: string;
      version: string;
    };

  beforeAll(async () => {
    await berth.start();
    repo = path.join(berth.dir, 'mono-repo');
    write('apps/api/server.js', SERVER('api'));
    write('apps/api/jobs.js', SERVER('jobs'));
    write('apps/api/VERSION', 'api-1\n');
    // Each build writes a fresh id: services sharing a build see the same one.
    write('apps/api/build.js', "require('fs').writeFileSync('build-id.txt', String(Math.random()));\n");
    const build =
      '[build]\nbuildCommand = "node build.js"\nwatchPatterns = ["/apps/api/**", "/packages/**"]\n';
    write('apps/api/railway.toml', `${build}[deploy]\nstartCommand = "node server.js"\n`);
    write('apps/api/railway.worker.toml', `${build}[deploy]\nstartCommand = "node jobs.js"\n`);
    write('apps/worker/worker.js', SERVER('worker'));
    write('apps/worker/VERSION', 'worker-1\n');
    write(
      'railway.scheduler.toml',
      '[build]\nwatchPatterns = ["apps/worker/**"]\n[deploy]\nstartCommand = "node worker.js"\n',
    );
    write('README.md', 'mono\n');
    for (const args of [
      ['init', '--name', project],
      [
        'add',
        '-p',
        project,
        '--service',
        'api',
        '--root-directory',
        'apps/api',
        '--config-path',
        'apps/api/railway.toml',
      ],
      ['add', '-p', project, '--service', 'jobs', '--root-directory', '/apps/api/'],
      ['service', 'update', '-p', project, '-s', 'jobs', '--config-path', 'apps/api/railway.worker.toml'],
      ['add', '-p', project, '--service', 'worker', '--root-directory', 'apps/worker'],
      ['service', 'update', '-p', project, '-s', 'worker', '--config-path', '/railway.scheduler.toml'],
    ]) {
      const r = await berth.cli(args, { cwd: repo });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    for (const args of [
      ['init', '-q', '-b', 'main'],
      ['add', '.'],
      ['commit', '-qm', 'three services'],
    ]) {
      const r = await git(args);
      expect(r.code, r.output).toBe(0);
    }
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('deploys every service from its root directory and config file; one root, one build', async () => {
    const push = await git(['push', remote(), 'main']);
    expect(push.code, push.output).toBe(0);
    for (const s of ['api', 'jobs', 'worker']) expect(push.output).toContain(`service ${s}`);
    expect(push.output).toMatch(/remote: Berth: (api|jobs): deployed/);
    const [api, jobs, worker] = [await served('api'), await served('jobs'), await served('worker')];
    expect(api).toMatchObject({ name: 'api', version: 'api-1' });
    expect(jobs).toMatchObject({ name: 'jobs', version: 'api-1' });
    expect(worker).toMatchObject({ name: 'worker', version: 'worker-1', build: 'none' });
    expect(api.build).not.toBe('none');
    expect(jobs.build).toBe(api.build);
    expect(push.output).toMatch(/Reusing the build of deployment [0-9a-f-]+ \(same commit/);
    const show = await berth.cli([
      'service',
      'update',
      '-p',
      project,
      '-s',
      'worker',
      '--json',
      '--config-path',
      '/railway.scheduler.toml',
    ]);
    expect(JSON.parse(show.stdout)).toMatchObject({
      rootDirectory: 'apps/worker',
      configPath: 'railway.scheduler.toml',
    });
  });

  it('deploys only the services whose watchPatterns a push touches; the others are SKIPPED', async () => {
    const before = await served('api');
    write('apps/worker/VERSION', 'worker-2\n');
    expect((await git(['commit', '-qam', 'worker only'])).code).toBe(0);
    const push = await git(['push', remote(), 'main']);
    expect(push.code, push.output).toBe(0);
    expect(push.output).toContain(
      'remote: Berth: [api] SKIPPED: no file this push changed matches watchPatterns "/apps/api/**", "/packages/**"',
    );
    expect((await served('worker')).version).toBe('worker-2');
    expect(await served('api')).toEqual(before);
    for (const s of ['api', 'jobs']) {
      const [latest, previous] = await berth.settledDeployments(['-p', project, '-s', s]);
      expect(latest.status).toBe('SKIPPED');
      expect(latest.reason).toContain('watchPatterns "/apps/api/**", "/packages/**"');
      expect(previous.status).toBe('SUCCESS');
    }
    const table = await berth.cli(['deployments', '-p', project, '-s', 'api']);
    expect(table.stdout).toMatch(/SKIPPED .*worker only.*watchPatterns/);
    const [w] = await berth.settledDeployments(['-p', project, '-s', 'worker']);
    expect(w.status).toBe('SUCCESS');
  });

  it('refuses a root directory that leaves the repository', async () => {
    const r = await berth.cli(['service', 'update', '-p', project, '-s', 'api', '--root-directory', '../x']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('Root directory "../x" leaves the repository');
  });
});
