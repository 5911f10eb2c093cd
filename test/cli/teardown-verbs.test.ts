import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/lib/wait.js';
import { groupAlive } from '../../src/runtime/proc.js';
import { BerthHarness, CLI, type DeploymentRow } from '../helpers/berth.js';

/**
 * The lifecycle verbs through the real binary against a real server: list, open, service list/status, down,
 * service delete and delete, and what each leaves on disk and in the edge's routing table.
 */
describe('berth list, open, service list|status, down, service delete, delete', () => {
  const berth = new BerthHarness();
  const web = ['-p', 'verbs', '-s', 'web'];
  const worker = ['-p', 'verbs', '-s', 'worker'];
  const host = () => berth.hostFor('web', 'verbs');

  async function api<T>(p: string): Promise<T> {
    const res = await request(`${berth.url}${p}`, { headers: { authorization: `Bearer ${berth.token}` } });
    return (await res.body.json()) as T;
  }

  /** Every file and directory under the data dir, relative to it. */
  function walk(dir: string, out: string[] = []): string[] {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      out.push(path.relative(berth.dataDir, full));
      if (e.isDirectory()) walk(full, out);
    }
    return out;
  }

  /** The edge's routing table as the running edge has it: routes.json (built-in) or HAProxy's config and maps. */
  function routesText(): string {
    const edge = path.join(berth.dataDir, 'edge');
    const files = [
      'routes.json',
      'haproxy/haproxy.cfg',
      'haproxy/hosts.map',
      'haproxy/redirects.map',
      'haproxy/state.json',
    ];
    const texts = files
      .filter((f) => fs.existsSync(path.join(edge, f)))
      .map((f) => fs.readFileSync(path.join(edge, f), 'utf8'));
    expect(texts.length).toBeGreaterThan(0);
    return texts.join('\n');
  }

  beforeAll(async () => {
    await berth.start();
    for (const [name, scope] of [
      ['web', web],
      ['worker', worker],
    ] as const) {
      const up = await berth.cli(['up', berth.app('env-echo', name), ...scope]);
      expect(up.code, up.stdout + up.stderr).toBe(0);
    }
    const set = await berth.cli(['variables', 'set', 'MESSAGE=kept', ...web]);
    expect(set.code, set.stderr).toBe(0);
    expect((await berth.settledDeployments(web))[0].status).toBe('SUCCESS');
    expect((await berth.get(host(), '/MESSAGE')).body).toBe('kept');
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('list prints the projects; --json parses', async () => {
    const table = await berth.cli(['list']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^verbs\s/m);
    const json = await berth.cli(['list', '--json']);
    expect((JSON.parse(json.stdout) as { name: string }[]).map((p) => p.name)).toEqual(['verbs']);
  });

  it('service list and service status show the services and their deployment', async () => {
    const list = await berth.cli(['service', 'list', '--json', '-p', 'verbs']);
    expect(list.code, list.stderr).toBe(0);
    const services = JSON.parse(list.stdout) as { name: string; status: string }[];
    expect(services.map((s) => [s.name, s.status])).toEqual([
      ['web', 'SUCCESS'],
      ['worker', 'SUCCESS'],
    ]);
    const status = await berth.cli(['service', 'status', ...web]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('Status: SUCCESS');
    expect(status.stdout).toContain(`URL: http://${host()}:${berth.httpPort}`);
  });

  it('open prints the URL and, without a display, opens nothing', async () => {
    const open = await berth.cli(['open', ...web], { env: { DISPLAY: '', WAYLAND_DISPLAY: '' } });
    expect(open.code, open.stderr).toBe(0);
    expect(open.stdout.trim()).toBe(`http://${host()}:${berth.httpPort}`);
  });

  it('open hands the URL to xdg-open where there is a display', async () => {
    // The browser is the user's: a recorder stands in for it under the name the CLI looks for on PATH.
    const bin = path.join(berth.dir, 'browser-bin');
    const seen = path.join(berth.dir, 'opened.txt');
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(path.join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s' "$1" > '${seen}'\n`, {
      mode: 0o755,
    });
    const open = await berth.cli(['open', ...web], {
      env: { DISPLAY: ':0', PATH: `${bin}:${process.env.PATH ?? ''}` },
    });
    expect(open.code, open.stderr).toBe(0);
    const url = `http://${host()}:${berth.httpPort}`;
    expect(open.stdout.trim()).toBe(url);
    await waitFor(
      'the URL to be opened',
      () => fs.existsSync(seen) && fs.readFileSync(seen, 'utf8') === url,
      {
        timeoutMs: 5000,
      },
    );
  });

  it('down without -y and without a terminal says to pass -y and changes nothing', async () => {
    const down = await berth.cli(['down', ...web]);
    expect(down.code).toBe(1);
    expect(down.stderr.trim()).toBe(
      'Error: Nothing was changed: pass -y to take down the active deployment of web (production) (there is no terminal to confirm on)',
    );
    expect((await berth.get(host(), '/MESSAGE')).body).toBe('kept');
  });

  it.skipIf(!fs.existsSync('/usr/bin/script'))(
    'on a terminal, down asks first; "n" changes nothing',
    async () => {
      // script(1) gives the CLI a terminal; the answer is typed on it.
      const cli = [process.execPath, CLI, 'down', ...web].join(' ');
      const child = spawn('/usr/bin/script', ['-q', '-e', '-c', cli, '/dev/null'], { env: berth.env() });
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
      });
      await waitFor('the question', () => out.includes('[y/N]'), { timeoutMs: 10_000 });
      expect(out).toContain('Really take down the active deployment of web (production)? [y/N]');
      child.stdin.write('n\n');
      const code = await new Promise<number | null>((r) => child.on('close', r));
      expect(code).toBe(1);
      expect(out).toContain('Error: Nothing was changed (not confirmed)');
      expect((await berth.get(host(), '/MESSAGE')).body).toBe('kept');
    },
  );

  it('down removes the active deployment: the URL answers the no-deployment page, the variables stay', async () => {
    const down = await berth.cli(['down', '-y', ...web]);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toMatch(/^Removed deployment \S+ of web \(production\)/);
    const status = JSON.parse((await berth.cli(['service', 'status', '--json', ...web])).stdout) as {
      status: string;
      deploymentId: string | null;
      replicas: number;
    };
    expect(status).toMatchObject({ status: 'REMOVED', deploymentId: null, replicas: 0 });
    const page = await berth.get(host(), '/MESSAGE');
    expect(page.status).toBe(404);
    expect(page.body).toContain('No service is deployed at');
    expect(routesText()).not.toContain(host());
    const vars = JSON.parse((await berth.cli(['variables', '--json', ...web])).stdout) as Record<
      string,
      string
    >;
    expect(vars.MESSAGE).toBe('kept');
    const again = await berth.cli(['down', '-y', ...web]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('has no active deployment in production; there is nothing to take down');
  });

  it('redeploy brings a taken-down service back with its variables', async () => {
    const redeploy = await berth.cli(['redeploy', '-y', ...web]);
    expect(redeploy.code, redeploy.stdout + redeploy.stderr).toBe(0);
    expect((await berth.get(host(), '/MESSAGE')).body).toBe('kept');
  });

  it('service delete removes the service, its files and its route; the other service keeps serving', async () => {
    const project = await api<{ id: string; services: { id: string; name: string }[] }>('/v1/projects/verbs');
    const workerId = project.services.find((s) => s.name === 'worker')?.id as string;
    const ids = (await berth.settledDeployments(worker)).map((d) => d.id);
    const refused = await berth.cli(['service', 'delete', ...worker]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('pass -y to delete service "worker"');

    const del = await berth.cli(['service', 'delete', '-y', ...worker]);
    expect(del.code, del.stderr).toBe(0);
    expect(del.stdout).toMatch(/^Deleted service worker: 1 deployment and \d+ files removed/);
    const left = walk(berth.dataDir).filter((p) => ids.some((id) => p.includes(id)));
    expect(left).toEqual([]);
    expect(routesText()).not.toContain(workerId);
    expect(routesText()).toContain(host());
    const list = JSON.parse((await berth.cli(['service', 'list', '--json', '-p', 'verbs'])).stdout) as {
      name: string;
    }[];
    expect(list.map((s) => s.name)).toEqual(['web']);
    expect((await berth.get(host(), '/MESSAGE')).body).toBe('kept');
  });

  it("service delete during a build cancels it: the build's processes and files go too", async () => {
    const slow = ['-p', 'verbs', '-s', 'slow'];
    const dir = berth.app('env-echo', 'slow');
    fs.appendFileSync(path.join(dir, 'railway.toml'), '\n[build]\nbuildCommand = "sleep 300"\n');
    const up = await berth.cli(['up', dir, '--detach', ...slow]);
    expect(up.code, up.stderr).toBe(0);
    const jobs = path.join(berth.dataDir, 'jobs');
    const pgid = await waitFor(
      'the build command to run',
      () => {
        const groups = fs.existsSync(jobs) ? fs.readdirSync(jobs) : [];
        return groups.length === 1 ? Number(groups[0]) : null;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    const [building] = JSON.parse(
      (await berth.cli(['deployments', '--json', ...slow])).stdout,
    ) as DeploymentRow[];
    const started = Date.now();
    const del = await berth.cli(['service', 'delete', '-y', ...slow]);
    expect(del.code, del.stderr).toBe(0);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(groupAlive(pgid)).toBe(false);
    expect(walk(berth.dataDir).filter((p) => p.includes(building.id))).toEqual([]);
    expect(fs.readdirSync(jobs)).toEqual([]);
  });

  it('delete removes the project: nothing of it is left on disk, in the database or in the edge table', async () => {
    const domain = await berth.cli(['domain', 'verbs.example.test', ...web]);
    expect(domain.code, domain.stderr).toBe(0);
    const project = await api<{ id: string; services: { id: string }[]; environments: { id: string }[] }>(
      '/v1/projects/verbs',
    );
    const deployments = (await berth.settledDeployments(web)).map((d) => d.id);
    const db = new Database(path.join(berth.dataDir, 'state.db'), { readonly: true });
    const uids = (db.prepare('SELECT seq FROM sandbox_users').all() as { seq: number }[]).map((r) =>
      String(2_000_000 + r.seq),
    );
    db.close();
    expect(routesText()).toContain('verbs.example.test');

    const refused = await berth.cli(['delete', '-p', 'verbs']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('pass -y to delete project "verbs"');
    const del = await berth.cli(['delete', '-y', '-p', 'verbs']);
    expect(del.code, del.stderr).toBe(0);
    expect(del.stdout).toMatch(
      /^Deleted project verbs: 1 service, 1 environment, \d+ deployments and \d+ files removed/,
    );

    expect(JSON.parse((await berth.cli(['list', '--json'])).stdout)).toEqual([]);
    const ids = [project.id, ...project.services.map((s) => s.id), ...deployments];
    const files = walk(berth.dataDir);
    expect(files.filter((p) => ids.some((id) => p.includes(id)))).toEqual([]);
    expect(files.filter((p) => uids.some((uid) => p.split(path.sep).includes(uid)))).toEqual([]);
    expect(files.filter((p) => p.includes('verbs'))).toEqual([]);
    const table = routesText();
    expect(table).not.toContain('verbs');
    const check = new Database(path.join(berth.dataDir, 'state.db'), { readonly: true });
    for (const [table, column] of [
      ['projects', 'id'],
      ['environments', 'project_id'],
      ['services', 'project_id'],
    ]) {
      expect(check.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${column} = ?`).get(project.id)).toEqual(
        { n: 0 },
      );
    }
    for (const t of ['deployments', 'workloads', 'domains', 'certificates', 'variables', 'sandbox_users']) {
      expect(check.prepare(`SELECT count(*) AS n FROM ${t}`).get()).toEqual({ n: 0 });
    }
    check.close();
    expect((await berth.get(host(), '/MESSAGE')).status).toBe(404);
  });
});
