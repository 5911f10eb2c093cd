import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findHaproxy } from '../../src/edge/haproxy/find.js';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness, uniqueProject } from '../helpers/berth.js';

interface StatusAnswer {
  services: {
    name: string;
    status: string | null;
    replicas: number;
    desiredReplicas?: number;
    sleeping?: boolean;
    deploymentId: string | null;
  }[];
}

const drivers = findHaproxy() === null ? (['builtin'] as const) : (['builtin', 'haproxy'] as const);

/**
 * Sleeping apps (issue 18): `sleepApplication = true` stops the replicas after sleepAfterSeconds without a
 * request; the next requests are held at the edge while they start, then answered — never a 502 — on both edges.
 */
describe.each(drivers)('sleepApplication (%s edge)', (kind) => {
  const berth = new BerthHarness();
  const project = `zz${kind}`;
  const scope = ['-p', project, '-s', 'web'];
  const host = () => berth.hostFor('web', project);
  const status = async () =>
    (JSON.parse((await berth.cli(['status', '--json', '-p', project])).stdout) as StatusAnswer).services[0];
  const asleep = () =>
    waitFor('the app to sleep', async () => (await status())?.sleeping === true, {
      timeoutMs: 60_000,
      intervalMs: 200,
    });

  beforeAll(async () => {
    berth.serverArgs = ['--edge', kind];
    await berth.start();
    const app = berth.app('lifecycle', `web-${kind}`);
    fs.appendFileSync(
      path.join(app, 'railway.toml'),
      'sleepApplication = true\nsleepAfterSeconds = 2\nnumReplicas = 2\n',
    );
    fs.writeFileSync(
      path.join(app, 'railway.toml'),
      fs
        .readFileSync(path.join(app, 'railway.toml'), 'utf8')
        .replace('drainingSeconds = 5', 'drainingSeconds = 0'),
    );
    expect((await berth.cli(['init', '--name', project])).code).toBe(0);
    expect((await berth.cli(['add', '--service', 'web', '-p', project])).code).toBe(0);
    const up = await berth.cli(['up', app, ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('stops the replicas after the idle period and shows SLEEPING', async () => {
    expect((await berth.get(host(), '/health')).status).toBe(200);
    await asleep();
    await waitFor('the replicas to stop', async () => (await status()).replicas === 0, { timeoutMs: 30_000 });
    expect(await status()).toMatchObject({ sleeping: true, replicas: 0, desiredReplicas: 2 });
    expect((await berth.cli(['status', '-p', project])).stdout).toMatch(/web\s+app\s+SLEEPING\s+0\/2/);
  });

  it('answers the first request and concurrent ones during the wake with 200, never a 502', async () => {
    const t0 = Date.now();
    const answers = await Promise.all(Array.from({ length: 8 }, () => berth.get(host(), '/slow?ms=10')));
    expect(answers.map((a) => `${a.status} ${a.body}`)).toEqual(Array(8).fill('200 slow v1'));
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(await status()).toMatchObject({ sleeping: false, replicas: 2, desiredReplicas: 2 });
    const [d] = await berth.settledDeployments(scope);
    const log = (await berth.cli(['logs', d.id, '-n', '1000', ...scope])).stdout;
    expect(log).toContain('No request for 2s (sleepAfterSeconds): sleeping');
    expect(log).toMatch(/Woke on a request: 2 replica\(s\) healthy in \d+ ms/);
  });

  it('stays asleep across a daemon restart and wakes on a request after it', async () => {
    await asleep();
    await berth.stopDaemon();
    await berth.startDaemon();
    expect(await status()).toMatchObject({ sleeping: true, replicas: 0 });
    const res = await berth.get(host(), '/health');
    expect(res.status).toBe(200);
    expect(await status()).toMatchObject({ sleeping: false, replicas: 2 });
  });

  it('a worker (it never listens) with sleepApplication does not sleep, and its deploy log says why', async () => {
    const worker = berth.app('lifecycle', `worker-${kind}`);
    fs.writeFileSync(
      path.join(worker, 'railway.toml'),
      '[deploy]\nstartCommand = "node server.js"\nworkerStabilitySeconds = 1\nsleepApplication = true\nsleepAfterSeconds = 1\n',
    );
    const wscope = ['-p', project, '-s', 'worker'];
    expect((await berth.cli(['add', '--service', 'worker', '-p', project])).code).toBe(0);
    expect((await berth.cli(['variables', 'set', 'LISTEN=0', '--skip-deploys', ...wscope])).code).toBe(0);
    const up = await berth.cli(['up', worker, ...wscope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const [d] = await berth.settledDeployments(wscope);
    await waitFor(
      'the deploy log to say the worker does not sleep',
      async () =>
        (await berth.cli(['logs', d.id, '-n', '1000', ...wscope])).stdout.includes(
          'sleepApplication has no effect here: this service is a worker (it serves no HTTP), so no request could wake it',
        ),
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    const s = JSON.parse((await berth.cli(['status', '--json', '-p', project])).stdout) as StatusAnswer;
    expect(s.services.find((x) => x.name === 'worker')).toMatchObject({ sleeping: false, replicas: 1 });
  });

  it('a deploy of a sleeping service wakes it: the new deployment serves, then sleeps again when idle', async () => {
    await asleep();
    const [before] = await berth.settledDeployments(scope);
    const redeploy = await berth.cli(['redeploy', '-y', ...scope]);
    expect(redeploy.code, redeploy.stderr).toBe(0);
    const [after] = await waitFor(
      'the redeploy to finish',
      async () => {
        const list = await berth.settledDeployments(scope);
        return list[0]?.id !== before.id ? list : null;
      },
      { timeoutMs: 60_000 },
    );
    expect(after.status).toBe('SUCCESS');
    expect((await berth.get(host(), '/health')).status).toBe(200);
    await asleep();
    expect((await status()).deploymentId).toBe(after.id);
  });
});

/** A sleeping service reached by another over the private network wakes the same way: its private endpoint points at the wake listener too. */
describe('sleepApplication over the private network', () => {
  const berth = new BerthHarness();
  // /etc/hosts is shared by every daemon on the machine: a project name of its own.
  const project = uniqueProject('zp');
  const api = ['-p', project, '-s', 'api'];
  const web = ['-p', project, '-s', 'web'];

  beforeAll(async () => {
    berth.hostsFile = '/etc/hosts';
    await berth.start();
    for (const cmd of [
      ['init', '--name', project],
      ['add', '--service', 'api', '-p', project],
      ['add', '--service', 'web', '-p', project],
      ['variables', 'set', 'VERSION=api-v1', '--skip-deploys', ...api],
      [
        'variables',
        'set',
        'API_URL=http://${{api.RAILWAY_PRIVATE_DOMAIN}}:${{api.PORT}}/slow?ms=1',
        '--skip-deploys',
        ...web,
      ],
    ]) {
      const r = await berth.cli(cmd);
      expect(r.code, `${cmd.join(' ')}: ${r.stderr}`).toBe(0);
    }
    const apiApp = berth.app('lifecycle', 'api');
    fs.appendFileSync(path.join(apiApp, 'railway.toml'), 'sleepApplication = true\nsleepAfterSeconds = 2\n');
    for (const [dir, scope] of [
      [apiApp, api],
      [berth.app('lifecycle', 'web'), web],
    ] as const) {
      const up = await berth.cli(['up', dir, ...scope]);
      expect(up.code, up.stdout + up.stderr).toBe(0);
    }
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('a call from another service to a sleeping one is answered', async () => {
    await waitFor(
      'api to sleep',
      async () => {
        const s = JSON.parse((await berth.cli(['status', '--json', '-p', project])).stdout) as StatusAnswer;
        return s.services.find((x) => x.name === 'api')?.sleeping === true;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const res = await berth.get(berth.hostFor('web', project), '/call?var=API_URL');
    expect(`${res.status} ${res.body}`).toBe('200 slow api-v1');
  });

  it('a deploy that turns sleepApplication on is picked up: the service sleeps after its period', async () => {
    // The sleep poller lists only deployments that set sleepApplication: the new one must be among them at once.
    const app = berth.app('lifecycle', 'web-sleeps');
    fs.appendFileSync(path.join(app, 'railway.toml'), 'sleepApplication = true\nsleepAfterSeconds = 1\n');
    const up = await berth.cli(['up', app, ...web]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const [d] = await berth.settledDeployments(web);
    expect(d.status).toBe('SUCCESS');
    await waitFor(
      'web to sleep',
      async () => {
        const s = JSON.parse((await berth.cli(['status', '--json', '-p', project])).stdout) as StatusAnswer;
        return s.services.find((x) => x.name === 'web')?.sleeping === true;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const res = await berth.get(berth.hostFor('web', project), '/health');
    expect(res.status).toBe(200);
  });
});
