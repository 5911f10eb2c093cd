import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness } from '../helpers/berth.js';

// `npm test` builds dist/ first; these tests drive the real CLI against a real daemon.
describe('berth up deploys real apps through the CLI', () => {
  const berth = new BerthHarness();
  beforeAll(async () => {
    await berth.start();
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('deploys a Node app with dependencies and reports it in status and deployments', async () => {
    const dir = berth.app('node-deps');
    const up = await berth.cli(['up', dir, '-p', 'shop', '-s', 'api']);
    expect(up.stderr + up.stdout).toContain('Deployed');
    expect(up.code).toBe(0);
    const res = await berth.get(berth.hostFor('api', 'shop'));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ version: 'v1', ms: 60000 });

    const status = await berth.cli(['status', '--json', '-p', 'shop']);
    expect(status.code).toBe(0);
    const s = JSON.parse(status.stdout);
    expect(s).toMatchObject({ project: 'shop', environment: 'production' });
    expect(s.services).toEqual([
      {
        name: 'api',
        status: 'SUCCESS',
        url: `http://api-shop.localhost:${berth.httpPort}`,
        deploymentId: expect.any(String),
        replicas: 1,
        desiredReplicas: 1,
        kind: 'app',
        state: null,
        sleeping: false,
      },
    ]);

    const deployments = await berth.cli(['deployments', '--json', '-p', 'shop', '-s', 'api']);
    const list = JSON.parse(deployments.stdout);
    expect(list).toHaveLength(1);
    expect(Object.keys(list[0]).sort()).toEqual([
      'createdAt',
      'gitBranch',
      'gitMessage',
      'gitSha',
      'id',
      'message',
      'reason',
      'status',
    ]);
    expect(list[0]).toMatchObject({ status: 'SUCCESS', gitSha: null, gitBranch: null, gitMessage: null });
  });

  it('deploys a Python stdlib app', async () => {
    const up = await berth.cli(['up', berth.app('python-stdlib'), '-p', 'shop', '-s', 'py']);
    expect(up.code, up.stderr + up.stdout).toBe(0);
    const res = await berth.get(berth.hostFor('py', 'shop'));
    expect(res.status).toBe(200);
  });

  it('serves a static site from the edge', async () => {
    const up = await berth.cli(['up', berth.app('static-site'), '-p', 'shop', '-s', 'www']);
    expect(up.code, up.stderr + up.stdout).toBe(0);
    const host = berth.hostFor('www', 'shop');
    const index = await berth.get(host, '/');
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toMatch(/text\/html/);
    expect((await berth.get(host, '/about.html')).status).toBe(200);
    expect((await berth.get(host, '/missing.html')).status).toBe(404);
  });

  it('runs a Procfile app', async () => {
    const up = await berth.cli(['up', berth.app('procfile-app'), '-p', 'shop', '-s', 'proc']);
    expect(up.code, up.stderr + up.stdout).toBe(0);
    expect((await berth.get(berth.hostFor('proc', 'shop'))).status).toBe(200);
  });

  it('answers 404 for unknown hosts and 401 without a token', async () => {
    const res = await berth.get('nothing-here.localhost');
    expect(res.status).toBe(404);
    const noToken = await berth.cli(['status', '-p', 'shop'], { env: { BERTH_TOKEN: 'wrong' } });
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toMatch(/token/i);
    expect(noToken.stderr).not.toMatch(/\n\s+at /);
  });

  it('injects PORT, RAILWAY_* and BERTH_* variables and the service variables', async () => {
    const dir = berth.app('lifecycle', 'envcheck');
    const add = await berth.cli(['add', '--service', 'envcheck', '-p', 'shop']);
    expect(add.code, add.stderr).toBe(0);
    const set = await berth.cli([
      'variables',
      'set',
      'GREETING=hi there',
      '--skip-deploys',
      '-p',
      'shop',
      '-s',
      'envcheck',
    ]);
    expect(set.code, set.stderr).toBe(0);
    const up = await berth.cli(['up', dir, '-p', 'shop', '-s', 'envcheck']);
    expect(up.code, up.stderr + up.stdout).toBe(0);
    const env = JSON.parse((await berth.get(berth.hostFor('envcheck', 'shop'), '/env')).body);
    expect(env.GREETING).toBe('hi there');
    expect(Number(env.PORT)).toBeGreaterThan(0);
    expect(env.RAILWAY_SERVICE_NAME).toBe('envcheck');
    expect(env.RAILWAY_ENVIRONMENT_NAME).toBe('production');
    expect(env.RAILWAY_PROJECT_NAME).toBe('shop');
    expect(env.RAILWAY_PUBLIC_DOMAIN).toBe('envcheck-shop.localhost');
    expect(env.RAILWAY_DEPLOYMENT_ID).toBe(env.BERTH_DEPLOYMENT_ID);
    expect(env.RAILWAY_REPLICA_ID).toBeTruthy();
    const vars = await berth.cli(['variables', '--json', '-p', 'shop', '-s', 'envcheck']);
    expect(JSON.parse(vars.stdout)).toEqual({ GREETING: 'hi there' });
  });
});
