import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness } from '../helpers/berth.js';

const SECRET = 's3cr3t-Pa55word-4711';
const PLAIN = 'plain-visible-value-0815';

/** Railway-style references, sealed variables, redaction, encryption at rest, master key checks. */
describe('variables and secrets', () => {
  const berth = new BerthHarness();
  const db = ['-p', 'vars', '-s', 'db'];
  const api = ['-p', 'vars', '-s', 'api'];
  const env = async (service: string, environment = 'production') =>
    JSON.parse((await berth.get(berth.hostFor(service, 'vars', environment), '/env')).body) as Record<
      string,
      string
    >;
  const apiCall = async (p: string) => {
    const res = await request(`${berth.url}${p}`, { headers: { authorization: `Bearer ${berth.token}` } });
    return res.body.text();
  };

  beforeAll(async () => {
    await berth.start();
    for (const cmd of [
      ['init', '--name', 'vars'],
      ['add', '--service', 'db', '-p', 'vars'],
      ['add', '--service', 'api', '-p', 'vars'],
      ['variables', 'set', '--shared', 'GREETING=hello', '--skip-deploys', '-p', 'vars'],
      [
        'variables',
        'set',
        'PGUSER=app',
        `PLAIN=${PLAIN}`,
        'MOTD=${{shared.GREETING}} db',
        '--skip-deploys',
        ...db,
      ],
      ['variables', 'set', `PGPASSWORD=${SECRET}`, '--sealed', '--skip-deploys', ...db],
      [
        'variables',
        'set',
        'DATABASE_URL=postgres://${{db.PGUSER}}:${{ db.PGPASSWORD }}@${{db.RAILWAY_PUBLIC_DOMAIN}}/app',
        'GREETING=${{shared.GREETING}} from ${{RAILWAY_SERVICE_NAME}}',
        'PRINT_VAR=DATABASE_URL',
        '--skip-deploys',
        ...api,
      ],
    ]) {
      const r = await berth.cli(cmd);
      expect(r.code, `${cmd.join(' ')}: ${r.stderr}`).toBe(0);
    }
    for (const scope of [db, api]) {
      const up = await berth.cli(['up', berth.app('lifecycle', scope[3]), ...scope]);
      expect(up.code, up.stdout + up.stderr).toBe(0);
    }
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('resolves references to other services, shared variables and provided variables', async () => {
    const e = await env('api');
    expect(e.DATABASE_URL).toBe(`postgres://app:${SECRET}@db-vars.localhost/app`);
    expect(e.GREETING).toBe('hello from api');
    expect((await env('db')).MOTD).toBe('hello db');
  });

  it('never shows sealed values on read paths and redacts secrets from logs', async () => {
    const json = JSON.parse((await berth.cli(['variables', '--json', ...db])).stdout);
    expect(json).toEqual({ MOTD: '${{shared.GREETING}} db', PGUSER: 'app', PLAIN });
    const table = await berth.cli(['variables', ...db]);
    expect(table.stdout).toContain('PGPASSWORD');
    expect(table.stdout).not.toContain(SECRET);
    const run = await berth.cli([
      'run',
      '-p',
      'vars',
      '-s',
      'db',
      '--',
      'node',
      '-e',
      'console.log(JSON.stringify(process.env))',
    ]);
    expect(run.code).toBe(0);
    const local = JSON.parse(run.stdout) as Record<string, string>;
    expect(local.PGPASSWORD).toBeUndefined();
    expect(local.PGUSER).toBe('app');
    // Resolved as the deployment sees it, with Railway's provided variables, as `railway run` does.
    expect(local.MOTD).toBe('hello db');
    expect(local.RAILWAY_SERVICE_NAME).toBe('db');
    expect(local.RAILWAY_PRIVATE_DOMAIN).toBe('db.production.vars.internal');
    // A value built from a sealed one through a reference is as secret as the sealed one.
    const apiRun = await berth.cli([
      'run',
      ...api,
      '--',
      'node',
      '-e',
      'console.log(JSON.stringify(process.env))',
    ]);
    expect(apiRun.code, apiRun.stderr).toBe(0);
    const apiLocal = JSON.parse(apiRun.stdout) as Record<string, string>;
    expect(apiLocal.DATABASE_URL).toBeUndefined();
    expect(apiLocal.GREETING).toBe('hello from api');
    expect(apiRun.stdout).not.toContain(SECRET);
    const status = JSON.parse((await berth.cli(['status', '--json', '-p', 'vars'])).stdout);
    const apiDeployment = status.services.find((s: { name: string }) => s.name === 'api').deploymentId;
    expect(await apiCall(`/v1/deployments/${apiDeployment}`)).not.toContain(SECRET);
    const logs = await berth.cli(['logs', apiDeployment, ...api]);
    expect(logs.stdout).toContain('DATABASE_URL is postgres://app:***@db-vars.localhost/app');
    expect(logs.stdout).not.toContain(SECRET);
  });

  it('a reference to a missing service or key fails before the build and the old version keeps serving', async () => {
    const set = await berth.cli(['variables', 'set', 'BROKEN=${{nosuch.URL}}', ...api]);
    expect(set.code, set.stderr).toBe(0);
    const [latest] = await berth.settledDeployments(api);
    expect(latest.status).toBe('FAILED');
    expect(latest.reason).toContain('${{nosuch.URL}}');
    expect(latest.reason).toContain('nosuch');
    expect((await env('api')).GREETING).toBe('hello from api');
    await berth.cli(['variables', 'delete', 'BROKEN', '--skip-deploys', ...api]);

    await berth.cli(['variables', 'set', 'A=${{B}}', 'B=x${{A}}', ...api]);
    const [cyc] = await berth.settledDeployments(api);
    expect(cyc.status).toBe('FAILED');
    expect(cyc.reason).toMatch(/cycle/i);
    await berth.cli(['variables', 'delete', 'A', 'B', '--skip-deploys', ...api]);
  });

  it('a shared variable change redeploys dependents after the services they reference', async () => {
    const res = await berth.cli(['variables', 'set', '--shared', 'GREETING=hi', '-p', 'vars']);
    expect(res.code, res.stderr).toBe(0);
    const [dbDep] = await berth.settledDeployments(db);
    const [apiDep] = await berth.settledDeployments(api);
    expect(dbDep.status).toBe('SUCCESS');
    expect(apiDep.status).toBe('SUCCESS');
    expect((await env('api')).GREETING).toBe('hi from api');
    const statusTimes = async (id: string) =>
      (await apiCall(`/v1/deployments/${id}/logs?follow=1&until=terminal`))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .filter((e) => e.type === 'status');
    const dbSuccess = (await statusTimes(dbDep.id)).find((e) => e.status === 'SUCCESS').time;
    const apiBuilding = (await statusTimes(apiDep.id)).find((e) => e.status === 'BUILDING').time;
    expect(apiBuilding >= dbSuccess).toBe(true);
  });

  it('rollback restores the variables a deployment ran with', async () => {
    const rb = await berth.cli(['rollback', ...api]);
    expect(rb.code, rb.stdout + rb.stderr).toBe(0);
    expect((await env('api')).GREETING).toBe('hello from api');
  });

  it('duplicating an environment copies variables but not sealed ones', async () => {
    const dup = await berth.cli(['environment', 'new', 'staging', '--duplicate', 'production', '-p', 'vars']);
    expect(dup.code, dup.stderr).toBe(0);
    const stagingDb = ['-p', 'vars', '-e', 'staging', '-s', 'db'];
    const stagingApi = ['-p', 'vars', '-e', 'staging', '-s', 'api'];
    const [dbDep] = await berth.settledDeployments(stagingDb);
    expect(dbDep.status).toBe('SUCCESS');
    expect((await env('db', 'staging')).PGPASSWORD).toBeUndefined();
    const [apiDep] = await berth.settledDeployments(stagingApi);
    expect(apiDep.status).toBe('FAILED');
    expect(apiDep.reason).toContain('PGPASSWORD');
  });

  it('stores no plaintext value in the database files', async () => {
    const files = fs.readdirSync(berth.dataDir).filter((f) => f.startsWith('state.db'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const bytes = fs.readFileSync(path.join(berth.dataDir, f));
      expect(bytes.includes(SECRET), f).toBe(false);
      expect(bytes.includes(PLAIN), f).toBe(false);
    }
  });

  it('refuses to start with the wrong master key without touching data, and starts with the right one', async () => {
    await berth.stopDaemon();
    const keyFile = path.join(berth.dataDir, 'master.key');
    const hash = () =>
      crypto
        .createHash('sha256')
        .update(fs.readFileSync(path.join(berth.dataDir, 'state.db')))
        .digest('hex');
    const before = hash();
    const wrong = crypto.randomBytes(32).toString('base64');
    await expect(berth.startDaemon({ BERTH_MASTER_KEY: wrong })).rejects.toThrow(/master key does not match/);
    expect(hash()).toBe(before);
    const real = fs.readFileSync(keyFile);
    fs.rmSync(keyFile);
    await expect(berth.startDaemon()).rejects.toThrow(/master key is missing/);
    fs.writeFileSync(keyFile, real, { mode: 0o600 });
    await berth.startDaemon();
    expect((await env('api')).GREETING).toBe('hello from api');
  });

  it('rotates the master key', async () => {
    const old = fs.readFileSync(path.join(berth.dataDir, 'master.key'), 'utf8');
    const rot = await berth.cli(['master-key', 'rotate']);
    expect(rot.code, rot.stderr).toBe(0);
    expect(fs.readFileSync(path.join(berth.dataDir, 'master.key'), 'utf8')).not.toBe(old);
    const json = JSON.parse((await berth.cli(['variables', '--json', ...db])).stdout);
    expect(json.PLAIN).toBe(PLAIN);
    await berth.stopDaemon();
    await berth.startDaemon();
    expect(JSON.parse((await berth.cli(['variables', '--json', ...db])).stdout).PLAIN).toBe(PLAIN);
  });
});
