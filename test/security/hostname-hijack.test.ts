import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness } from '../helpers/berth.js';

/**
 * Attack: generated host names are `<service>-<project>[-<env>]`, so project `p-q`'s service `svc` and
 * project `q`'s service `svc-p` both want `svc-p-q`. Before the fix the second tenant's deployment showed
 * SUCCESS while the edge kept (or swapped) the other tenant's traffic. Now a name that would clash is
 * refused with a 409 naming the owner, a deployment whose name is owned elsewhere fails before its build,
 * the owner keeps serving through the edge, and no project can take a domain someone else serves.
 */
describe('hijacking another tenant’s host name', () => {
  const berth = new BerthHarness();
  const victimHost = () => berth.hostFor('svc-p', 'q');

  /** The lifecycle fixture answering `text` on `/`. */
  const app = (name: string, text: string) => {
    const dir = berth.app('lifecycle', name);
    const server = path.join(dir, 'server.js');
    fs.writeFileSync(server, fs.readFileSync(server, 'utf8').replace(/\|\| 'v1'/, `|| '${text}'`));
    return dir;
  };
  const ok = async (args: string[]) => {
    const r = await berth.cli(args);
    expect(r.code, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(0);
    return r;
  };
  const projects = async () => {
    const res = await request(`${berth.url}/v1/projects`, {
      headers: { authorization: `Bearer ${berth.token}` },
    });
    return ((await res.body.json()) as { name: string }[]).map((p) => p.name);
  };

  beforeAll(async () => {
    await berth.start();
    await ok(['up', app('victim', 'tenant-q'), '-p', 'q', '-s', 'svc-p']);
    expect((await berth.get(victimHost())).body).toBe('tenant-q');
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('refuses a service whose generated name another project’s service has (409, names the owner)', async () => {
    const up = await berth.cli(['up', app('attacker', 'tenant-pq'), '-p', 'p-q', '-s', 'svc']);
    expect(up.code).not.toBe(0);
    expect(up.stderr).toContain(
      'The generated host name svc-p-q of service "svc" of project "p-q" (production) is already the host name of service "svc-p" of project "q" (production); pick another name for the service.',
    );
    // Nothing was left behind: not the project `up` would have created for it.
    expect(await projects()).not.toContain('p-q');

    await ok(['init', '--name', 'p-q']);
    const res = await request(`${berth.url}/v1/projects/p-q/services`, {
      method: 'POST',
      headers: { authorization: `Bearer ${berth.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'svc' }),
    });
    expect(res.statusCode).toBe(409);
    const body = (await res.body.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('hostname_taken');
    expect(body.error.message).toMatch(/already the host name of service "svc-p" of project "q"/);
    expect((await berth.get(victimHost())).body).toBe('tenant-q');
  });

  it('refuses an environment whose names would clash: <service>-<project>-<env>', async () => {
    await ok(['up', app('other', 'tenant-p'), '-p', 'p', '-s', 'svc']);
    const env = await berth.cli(['environment', 'new', 'q', '-p', 'p']);
    expect(env.code).not.toBe(0);
    expect(env.stderr).toContain(
      'The generated host name svc-p-q of service "svc" of project "p" (q) is already the host name of service "svc-p" of project "q" (production); pick another name for the environment.',
    );
    expect((await berth.get(victimHost())).body).toBe('tenant-q');
  });

  it('a project token cannot claim a domain another project serves, nor a generated host name', async () => {
    await ok(['domain', 'shop.example.com', '-p', 'q', '-s', 'svc-p']);
    const created = await ok(['token', 'create', '-p', 'p', '-e', 'production', '--name', 'ci']);
    const token = created.stdout.trim();
    const asTenant = (args: string[]) =>
      berth.cli(args, {
        env: { BERTH_TOKEN: token, BERTH_CLI_CONFIG: path.join(berth.dir, 'tenant-cli.json') },
      });
    const custom = await asTenant(['domain', 'Shop.Example.com', '-p', 'p', '-s', 'svc']);
    expect(custom.code).not.toBe(0);
    expect(custom.stderr).toContain(
      'shop.example.com is already the domain of service svc-p (production) in project q',
    );
    const generated = await asTenant(['domain', victimHost(), '-p', 'p', '-s', 'svc']);
    expect(generated.code).not.toBe(0);
    expect(generated.stderr).toContain(
      `${victimHost()} is the generated host name of service "svc-p" of project "q" (production)`,
    );
    // Through the API the answer is a 409.
    const res = await request(`${berth.url}/v1/projects/p/environments/production/services/svc/domains`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ hostname: 'shop.example.com' }),
    });
    expect(res.statusCode).toBe(409);
    await res.body.dump();
    expect((await berth.get('shop.example.com')).body).toBe('tenant-q');
  });

  it('a clash already in the state (made before names were checked) keeps the owner serving and fails the other deploy before its build', async () => {
    // A service row as an older Berth would have accepted it, added after the victim's.
    const db = new Database(path.join(berth.dataDir, 'state.db'));
    const pq = db.prepare("SELECT id FROM projects WHERE name = 'p-q'").get() as { id: string };
    db.prepare('INSERT INTO services (id, project_id, name, created_at) VALUES (?, ?, ?, ?)').run(
      randomUUID(),
      pq.id,
      'svc',
      new Date().toISOString(),
    );
    db.close();
    const up = await berth.cli(['up', path.join(berth.dir, 'apps', 'attacker'), '-p', 'p-q', '-s', 'svc']);
    expect(up.code).not.toBe(0);
    const [d] = await berth.settledDeployments(['-p', 'p-q', '-s', 'svc']);
    expect(d.status).toBe('FAILED');
    expect(d.reason).toBe(
      'the generated host name svc-p-q.localhost already belongs to service "svc-p" of project "q" (production), which had it first; this service would never get its traffic, so it is not deployed (create it under another name)',
    );
    const logs = await berth.cli(['logs', d.id, '--build', '-p', 'p-q', '-s', 'svc']);
    expect(logs.stdout).not.toMatch(/npm|Installing|Build/i);
    // The owner keeps its name through a redeploy of its own, and still serves its content.
    await ok(['redeploy', '-p', 'q', '-s', 'svc-p']);
    const [mine] = await berth.settledDeployments(['-p', 'q', '-s', 'svc-p']);
    expect(mine.status).toBe('SUCCESS');
    expect((await berth.get(victimHost())).body).toBe('tenant-q');
  });
});
