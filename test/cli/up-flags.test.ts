import fs from 'node:fs';
import path from 'node:path';
import { list as listTar } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness, type DeploymentRow } from '../helpers/berth.js';

/**
 * Railway's `up` flags and files through the real binary against a real server: --json, --ci, -m,
 * --no-gitignore, .railwayignore, the `deployment up|redeploy` aliases and `environment edit --service-config`.
 */
describe('berth up -c/--ci, --json, -m, --no-gitignore, .railwayignore; deployment up|redeploy; environment edit', () => {
  const berth = new BerthHarness();
  const scope = ['-p', 'flags', '-s', 'web'];
  const host = () => berth.hostFor('web', 'flags');
  let dir: string;

  /** The files of the source snapshot the server stored for a deployment. */
  async function uploaded(deploymentId: string): Promise<string[]> {
    const files: string[] = [];
    await listTar({
      file: path.join(berth.dataDir, 'sources', `${deploymentId}.tar.gz`),
      onReadEntry: (e) => files.push(e.path),
    });
    return files.sort();
  }

  async function latest(): Promise<DeploymentRow & { message: string | null }> {
    return (await berth.settledDeployments(scope))[0] as DeploymentRow & { message: string | null };
  }

  beforeAll(async () => {
    await berth.start();
    dir = berth.app('env-echo', 'web');
    fs.writeFileSync(path.join(dir, '.railwayignore'), 'secret.txt\n');
    fs.writeFileSync(path.join(dir, '.gitignore'), 'generated.txt\n');
    fs.writeFileSync(path.join(dir, 'secret.txt'), 'not for the server\n');
    fs.writeFileSync(path.join(dir, 'generated.txt'), 'made locally\n');
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('up --json prints one JSON object per line; .railwayignore and .gitignore keep files out of the upload', async () => {
    const up = await berth.cli(['up', dir, '--json', '-m', 'first try', ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const lines = up.stdout.trim().split('\n');
    const events = lines.map(
      (l) => JSON.parse(l) as { type: string; status?: string; deploymentId?: string },
    );
    for (const e of events) expect(typeof e).toBe('object');
    expect(events[0]).toMatchObject({ type: 'deployment' });
    expect(events.at(-1)).toMatchObject({ type: 'result', status: 'SUCCESS' });
    expect(events.some((e) => e.type === 'log')).toBe(true);
    const files = await uploaded(events[0].deploymentId as string);
    expect(files).toContain('server.js');
    expect(files).toContain('.railwayignore');
    expect(files).not.toContain('secret.txt');
    expect(files).not.toContain('generated.txt');
  });

  it('-m is stored with the deployment and shown by `berth deployments`', async () => {
    expect((await latest()).message).toBe('first try');
    const table = await berth.cli(['deployments', ...scope]);
    expect(table.stdout).toContain('"first try"');
  });

  it('up --ci --no-gitignore prints the build log only, uploads .gitignore’d files, exits 0 on success', async () => {
    const up = await berth.cli(['up', dir, '--ci', '--no-gitignore', '-m', 'ci run', ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const [uploadedLine, deploymentLine, ...rest] = up.stdout.trim().split('\n');
    expect(uploadedLine).toMatch(/^Uploaded \d+ files/);
    const id = deploymentLine.replace('Deployment ', '');
    expect(rest.length).toBeGreaterThan(1);
    expect(rest.at(-1)).toBe(`Deployed http://${host()}:${berth.httpPort}`);
    // No status changes (`==> BUILDING`), no deploy-phase lines (health check, replicas).
    for (const status of ['QUEUED', 'BUILDING', 'DEPLOYING', 'SUCCESS'])
      expect(up.stdout).not.toContain(`==> ${status}`);
    const detail = await berth.cli(['logs', id, '--json']);
    const deployPhase = detail.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; phase?: string; message?: string })
      .filter((e) => e.type === 'log' && e.phase === 'deploy');
    expect(deployPhase.length).toBeGreaterThan(0);
    for (const e of deployPhase) expect(up.stdout).not.toContain(e.message);
    const files = await uploaded(id);
    expect(files).toContain('generated.txt');
    expect(files).not.toContain('secret.txt');
  });

  it('up --ci --json: every line parses and every log line is of the build', async () => {
    const up = await berth.cli(['up', dir, '--ci', '--json', ...scope]);
    expect(up.code, up.stderr).toBe(0);
    const events = up.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; phase?: string; status?: string });
    expect(events[0].type).toBe('deployment');
    expect(events.at(-1)).toMatchObject({ type: 'result', status: 'SUCCESS' });
    const middle = events.slice(1, -1);
    expect(middle.length).toBeGreaterThan(0);
    for (const e of middle) expect(e).toMatchObject({ type: 'log', phase: 'build' });
  });

  it('environment edit --service-config sets deploy.startCommand; deployment up --ci exits 1 when it fails', async () => {
    // The setting applies where railway.toml does not set the key (a committed file wins, as on Railway).
    fs.writeFileSync(
      path.join(dir, 'railway.toml'),
      '[deploy]\nhealthcheckPath = "/"\nhealthcheckTimeout = 20\n',
    );
    const edit = await berth.cli([
      'environment',
      'edit',
      '-p',
      'flags',
      '--service-config',
      'web',
      'deploy.startCommand',
      'node -e "process.exit(3)"',
      '--service-config',
      'web',
      'build.watchPatterns',
      '["src/**", "*.js"]',
    ]);
    expect(edit.code, edit.stderr).toBe(0);
    expect(edit.stdout).toBe(
      'Settings of web in production: startCommand="node -e \\"process.exit(3)\\"", watchPatterns=["src/**","*.js"] (from the next deployment)\n',
    );
    const up = await berth.cli(['deployment', 'up', dir, '--ci', ...scope]);
    expect(up.code).toBe(1);
    expect(up.stderr).toMatch(/^Deployment failed: /m);
    expect((await berth.get(host())).body).toBe('ok');

    const bad = await berth.cli([
      'environment',
      'edit',
      '--service-config',
      'web',
      'deploy.region',
      'x',
      '-p',
      'flags',
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(
      'Berth does not store deploy.region; the paths it takes are build.buildCommand',
    );
  });

  it('a working deploy.startCommand and `deployment redeploy` deploy again', async () => {
    const fix = await berth.cli([
      'environment',
      'edit',
      '-p',
      'flags',
      '--service-config',
      'web',
      'deploy.startCommand',
      'node server.js',
      '--service-config',
      'web',
      'build.watchPatterns',
      '',
    ]);
    expect(fix.code, fix.stderr).toBe(0);
    expect(fix.stdout).toBe(
      'Settings of web in production: startCommand="node server.js" (from the next deployment)\n',
    );
    const redeploy = await berth.cli(['deployment', 'redeploy', ...scope]);
    expect(redeploy.code, redeploy.stdout + redeploy.stderr).toBe(0);
    expect((await latest()).status).toBe('SUCCESS');
  });
});
