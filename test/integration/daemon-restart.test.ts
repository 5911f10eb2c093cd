import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/lib/net.js';
import { waitFor } from '../../src/lib/wait.js';
import { groupAlive } from '../../src/runtime/proc.js';
import { BerthHarness, CLI } from '../helpers/berth.js';
import { sandboxed } from '../helpers/optional-tools.js';
import { killGroup } from '../helpers/tmp.js';

/** The data plane must not depend on the control plane: kill -9 the daemon, traffic flows on. */
describe('kill -9 of berth server', () => {
  const berth = new BerthHarness();
  const scope = ['-p', 'kd', '-s', 'web'];
  beforeAll(async () => {
    await berth.start();
    const up = await berth.cli(['up', berth.app('lifecycle', 'web'), ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
  });
  afterAll(async () => {
    await berth.stop();
  });

  const replicaPids = async () => {
    const st = JSON.parse((await berth.cli(['status', '--json', '-p', 'kd'])).stdout);
    const res = await request(`${berth.url}/v1/deployments/${st.services[0].deploymentId}`, {
      headers: { authorization: `Bearer ${berth.token}` },
    });
    const d = (await res.body.json()) as { replicas: { pid: number; state: string }[] };
    return d.replicas.filter((r) => r.state === 'running').map((r) => r.pid);
  };

  it('keeps serving while the daemon is dead and a new daemon re-adopts the replicas', async () => {
    const host = berth.hostFor('web', 'kd');
    const before = await replicaPids();
    expect(before).toHaveLength(1);
    await berth.killDaemon();
    for (let i = 0; i < 50; i++) {
      const res = await berth.get(host);
      expect(res.status).toBe(200);
    }
    // a replica dying while nobody supervises is restarted by the next daemon
    killGroup(before[0]);
    await berth.startDaemon();
    const after = await waitFor(
      'the replica to be restarted',
      async () => {
        const pids = await replicaPids();
        return pids.length === 1 && pids[0] !== before[0] ? pids : null;
      },
      { timeoutMs: 20_000 },
    );
    expect(after[0]).not.toBe(before[0]);
    await waitFor(
      'traffic to reach the restarted replica',
      async () => (await berth.get(host)).body === 'v1',
    );

    // and the re-adopted service still deploys normally
    const set = await berth.cli(['variables', 'set', 'VERSION=v2', ...scope]);
    expect(set.code).toBe(0);
    expect((await berth.settledDeployments(scope))[0].status).toBe('SUCCESS');
    expect((await berth.get(host)).body).toBe('v2');
  });

  it('re-adopts live replicas without restarting them', async () => {
    const before = await replicaPids();
    await berth.killDaemon();
    await berth.startDaemon();
    expect(await replicaPids()).toEqual(before);
    expect((await berth.get(berth.hostFor('web', 'kd'))).body).toBe('v2');
  });

  it('fails a deployment a dead daemon left in flight, stops its replica, and the old version keeps serving', async () => {
    const scope = ['-p', 'kf', '-s', 'slow'];
    const dir = berth.app('lifecycle', 'slow');
    const toml = path.join(dir, 'railway.toml');
    fs.writeFileSync(
      toml,
      fs.readFileSync(toml, 'utf8').replace(/healthcheckTimeout = \d+/, 'healthcheckTimeout = 120'),
    );
    const up = await berth.cli(['up', dir, ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const host = berth.hostFor('slow', 'kf');

    // v2's replica never passes its health check: the deployment waits in DEPLOYING for up to 120 s
    expect((await berth.cli(['variables', 'set', 'HEALTH_STATUS=503', 'VERSION=v2', ...scope])).code).toBe(0);
    const stuck = await waitFor(
      'the new deployment to be health-checking a running replica',
      async () => {
        const [d] = JSON.parse((await berth.cli(['deployments', '--json', ...scope])).stdout) as {
          id: string;
          status: string;
        }[];
        if (d?.status !== 'DEPLOYING') return null;
        const res = await request(`${berth.url}/v1/deployments/${d.id}`, {
          headers: { authorization: `Bearer ${berth.token}` },
        });
        const detail = (await res.body.json()) as { replicas: { pid: number | null; state: string }[] };
        const pid = detail.replicas.find((r) => r.state === 'starting' || r.state === 'running')?.pid;
        return pid ? { id: d.id, pid } : null;
      },
      { timeoutMs: 30_000 },
    );

    await berth.killDaemon();
    await berth.startDaemon();
    const [failed] = await berth.settledDeployments(scope);
    expect(failed).toMatchObject({ id: stuck.id, status: 'FAILED' });
    expect(failed.reason).toContain('Berth server stopped while this deployment was in progress');
    expect((await berth.get(host)).body).toBe('v1');
    // (a zombie counts as stopped: the dead daemon was its parent, and PID 1 may never reap it)
    await waitFor('the stuck replica to be stopped', () => !groupAlive(stuck.pid), { timeoutMs: 30_000 });

    // nothing is left half-done: the next deploy goes through
    expect((await berth.cli(['variables', 'set', 'HEALTH_STATUS=200', ...scope])).code).toBe(0);
    expect((await berth.settledDeployments(scope))[0].status).toBe('SUCCESS');
    expect((await berth.get(host)).body).toBe('v2');
  });

  it('kills a preDeployCommand a dead daemon left running and fails its deployment', async () => {
    const scope = ['-p', 'kf', '-s', 'migrate'];
    const dir = berth.app('lifecycle', 'migrate');
    // hangs only once HANG is set, like a migration waiting on a lock
    fs.appendFileSync(
      path.join(dir, 'railway.toml'),
      'preDeployCommand = "if [ -n \\"$HANG\\" ]; then sleep 300; fi"\n',
    );
    const up = await berth.cli(['up', dir, ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const host = berth.hostFor('migrate', 'kf');
    expect((await berth.get(host)).body).toBe('v1');

    expect((await berth.cli(['variables', 'set', 'HANG=1', 'VERSION=v2', ...scope])).code).toBe(0);
    const jobs = path.join(berth.dataDir, 'jobs');
    const pgid = await waitFor(
      'the preDeployCommand to be running',
      async () => {
        const [d] = JSON.parse((await berth.cli(['deployments', '--json', ...scope])).stdout) as {
          status: string;
        }[];
        const groups = fs.existsSync(jobs) ? fs.readdirSync(jobs) : [];
        return d?.status === 'DEPLOYING' && groups.length === 1 ? Number(groups[0]) : null;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    await berth.killDaemon();
    // Sandboxed (root with bubblewrap), the command dies with the daemon (bwrap --die-with-parent); otherwise
    // nobody waits for it now and the next daemon kills what its jobs/ directory names.
    if (sandboxed) {
      await waitFor('the preDeployCommand to die with the daemon', () => !groupAlive(pgid), {
        timeoutMs: 5000,
      });
    } else expect(groupAlive(pgid)).toBe(true);

    await berth.startDaemon();
    await waitFor('the left-over preDeployCommand to be killed', () => !groupAlive(pgid), {
      timeoutMs: 5000,
    });
    const [failed] = await berth.settledDeployments(scope);
    expect(failed.status).toBe('FAILED');
    expect(failed.reason).toContain('Berth server stopped while this deployment was in progress');
    expect(fs.readdirSync(jobs)).toEqual([]);
    expect((await berth.get(host)).body).toBe('v1');
  });

  /** `berth server --data-dir <the harness's> ...args`, run to its exit. */
  const serverCommand = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const all = [CLI, 'server', '--data-dir', berth.dataDir, ...args];
      // the harness's scratch hosts file, as its daemon uses: a refused start must not touch /etc/hosts
      const env = { ...process.env, BERTH_HOSTS_FILE: berth.hostsFile };
      execFile(process.execPath, all, { timeout: 60_000, env }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
      );
    });

  it('refuses a second server on the same data dir before it touches anything', async () => {
    const replicas = await replicaPids();
    const edgeDir = path.join(berth.dataDir, 'edge');
    const edgePid = () =>
      ['edge.pid', 'haproxy/haproxy.pid']
        .map((f) => path.join(edgeDir, f))
        .filter((f) => fs.existsSync(f))
        .map((f) => fs.readFileSync(f, 'utf8').trim());
    const edgeBefore = edgePid();
    const ports = [await freePort(), await freePort(), await freePort()].map(String);
    const second = await serverCommand([
      '--api-port',
      ports[0],
      '--http-port',
      ports[1],
      '--https-port',
      ports[2],
    ]);
    expect(second.code).toBe(1);
    expect(second.stderr.trim()).toBe(
      `Error: Another berth server (pid ${berth.daemon?.pid}) already runs with the data dir ${berth.dataDir}; stop it first (or use another --data-dir).`,
    );
    expect(await replicaPids()).toEqual(replicas);
    expect(edgePid()).toEqual(edgeBefore);
    expect(fs.readFileSync(path.join(berth.dataDir, 'server.pid'), 'utf8').trim()).toBe(
      String(berth.daemon?.pid),
    );
  });

  it('berth server --stop-edge stops the edge a stopped server left running; apps keep running', async () => {
    const host = berth.hostFor('web', 'kd');
    const replicas = await replicaPids();
    const refused = await serverCommand(['--stop-edge']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`Another berth server (pid ${berth.daemon?.pid}) already runs`);
    expect((await berth.get(host)).status).toBe(200);

    await berth.stopDaemon();
    // a restart with other ports is refused while the edge runs: it must not move live traffic
    const [api, other] = [String(await freePort()), String(await freePort())];
    const moved = await serverCommand([
      '--api-port',
      api,
      '--http-port',
      other,
      '--https-port',
      String(berth.httpsPort),
    ]);
    expect(moved.code).toBe(1);
    expect(moved.stderr).toMatch(
      new RegExp(
        `already runs for .* on ports ${berth.httpPort}/${berth.httpsPort}, not ${other}/${berth.httpsPort}; stop it first \\(berth server --stop-edge\\) to change them\\.\n$`,
      ),
    );
    expect((await berth.get(host)).status).toBe(200);

    const stopped = await serverCommand(['--stop-edge']);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout).toMatch(/^Stopped the (builtin|haproxy) edge of .*; apps keep running/);
    await expect(berth.get(host)).rejects.toThrow();
    expect((await serverCommand(['--stop-edge'])).stdout).toBe(`No edge runs for ${berth.dataDir}.\n`);

    await berth.startDaemon();
    expect(await replicaPids()).toEqual(replicas);
    await waitFor(
      'the edge to serve again',
      async () => (await berth.get(host).catch(() => null))?.status === 200,
    );
  });
});
