import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness } from '../helpers/berth.js';

/**
 * Project tokens, Railway's RAILWAY_TOKEN: CI deploys one environment of one project with nothing but the token
 * (seed 001's workflow: `up --service api --environment staging`), and reaches nothing else.
 */
describe('project tokens', () => {
  const berth = new BerthHarness();
  let token = '';
  /** The CLI as a CI job runs it: the token in the environment, no login, no linked directory. */
  const ci = (args: string[], secret = token) =>
    berth.cli(args, {
      env: { BERTH_TOKEN: '', RAILWAY_TOKEN: secret, BERTH_CLI_CONFIG: path.join(berth.dir, 'ci-cli.json') },
    });
  const api = async (method: 'GET' | 'POST' | 'DELETE', p: string, secret = token) => {
    const res = await request(`${berth.url}${p}`, {
      method,
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: method === 'POST' ? '{}' : undefined,
    });
    return { status: res.statusCode, body: (await res.body.json()) as { error?: { message: string } } };
  };

  beforeAll(async () => {
    await berth.start();
    for (const cmd of [
      ['up', berth.app('lifecycle', 'web'), '-p', 'tk', '-s', 'web'],
      ['environment', 'new', 'staging', '-p', 'tk'],
      ['init', '--name', 'other'],
    ]) {
      const r = await berth.cli(cmd);
      expect(r.code, r.stdout + r.stderr).toBe(0);
    }
    const created = await berth.cli(['token', 'create', '-p', 'tk', '-e', 'staging', '--name', 'ci']);
    expect(created.code, created.stderr).toBe(0);
    token = created.stdout.trim();
    expect(token).toMatch(/^berth_pt_/);
    expect(created.stderr).toContain('not shown again');
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('says what it is, and logs in with it', async () => {
    expect(JSON.parse((await ci(['whoami', '--json'])).stdout)).toEqual({
      kind: 'project',
      project: 'tk',
      environment: 'staging',
      token: 'ci',
    });
    expect((await berth.cli(['whoami'])).stdout).toBe(`admin token on ${berth.url}\n`);
    const login = await berth.cli(['login', '--token', token], {
      env: { BERTH_CLI_CONFIG: path.join(berth.dir, 'login-cli.json') },
    });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toContain('(project token "ci" for the staging environment of tk)');
  });

  it('deploys and reads its own environment with only the token', async () => {
    const up = await ci(['up', path.join(berth.dir, 'apps', 'web'), '-s', 'web']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect((await berth.get(berth.hostFor('web', 'tk', 'staging'))).body).toBe('v1');
    const status = JSON.parse((await ci(['status', '--json'])).stdout);
    expect(status).toMatchObject({ project: 'tk', environment: 'staging' });
    expect((await ci(['deployments', '--json', '-s', 'web'])).code).toBe(0);
    expect((await ci(['variables', 'set', 'A=1', '--skip-deploys', '-s', 'web'])).code).toBe(0);
  });

  it('reaches nothing else: other environments, other projects, server-wide and token routes', async () => {
    const prod = await ci(['status', '-e', 'production']);
    expect(prod.code).toBe(1);
    expect(prod.stderr).toBe(
      'Error: This project token only reaches the staging environment of project tk; use a token of the environment you meant, or the admin token.\n',
    );
    expect((await ci(['status', '-p', 'other'])).code).toBe(1);
    const [prodDeployment] = JSON.parse(
      (await berth.cli(['deployments', '--json', '-p', 'tk', '-s', 'web'])).stdout,
    ) as { id: string }[];
    for (const [method, p] of [
      ['GET', '/v1/projects'],
      ['GET', '/v1/projects/tk'],
      ['POST', '/v1/projects/tk/tokens'],
      ['GET', '/v1/projects/tk/tokens'],
      ['DELETE', '/v1/projects/tk/environments/staging'],
      ['GET', `/v1/deployments/${prodDeployment.id}`],
      ['POST', '/v1/admin/rotate-master-key'],
    ] as const) {
      const res = await api(method, p);
      expect(res.status, `${method} ${p}`).toBe(403);
    }
    expect((await api('GET', '/v1/projects/tk/environments/staging/status')).status).toBe(200);
  });

  it('the admin lists tokens without secrets and revokes them at once', async () => {
    const list = JSON.parse((await berth.cli(['token', 'list', '-p', 'tk', '--json'])).stdout);
    expect(list).toEqual([
      expect.objectContaining({ name: 'ci', environment: 'staging', lastUsedAt: expect.any(String) }),
    ]);
    expect(JSON.stringify(list)).not.toContain(token);
    expect((await berth.cli(['token', 'create', '-p', 'tk', '-e', 'staging', '--name', 'ci'])).stderr).toBe(
      'Error: Project tk already has a token named "ci"; pick another --name.\n',
    );

    expect((await berth.cli(['token', 'delete', 'ci', '-p', 'tk'])).code).toBe(0);
    expect((await api('GET', '/v1/projects/tk/environments/staging/status')).status).toBe(401);
    expect((await ci(['status'])).code).toBe(1);
    const forged = `${token.slice(0, -4)}0000`;
    expect((await api('GET', '/v1/projects/tk/environments/staging/status', forged)).status).toBe(401);
  });
});
