import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness } from '../helpers/berth.js';
import { needsSandbox } from '../helpers/optional-tools.js';
import { type ProbeTarget, probeApp, probeResults } from '../helpers/probe-app.js';

/**
 * Attack: a tenant's app reads the object store's files — its config (every bucket's secret key), its objects,
 * its log — or its process (environment, working directory), to reach buckets it holds no keys for. The store
 * runs as the daemon's user with its files 0700/0600 under the data dir; apps run as uids of their own.
 */
const suite = needsSandbox('attack: an app reads the object store’s config, data or process');
describe.skipIf(suite.skip)(suite.title, () => {
  const berth = new BerthHarness();
  let secret: string;
  let report = '';

  beforeAll(async () => {
    await berth.start();
    expect((await berth.cli(['init', '--name', 'os'])).code).toBe(0);
    const made = await berth.cli(['bucket', 'create', 'vault', '-p', 'os']);
    expect(made.code, made.stdout + made.stderr).toBe(0);
    const creds = await berth.cli(['bucket', 'credentials', 'vault', '-p', 'os', '--json']);
    secret = (JSON.parse(creds.stdout) as { secretAccessKey: string }).secretAccessKey;
    const dir = path.join(berth.dataDir, 'storage');
    const pid = (JSON.parse(fs.readFileSync(path.join(dir, 'store.handle.json'), 'utf8')) as { pid: number })
      .pid;
    const targets: ProbeTarget[] = [
      { label: 'read-config', path: path.join(dir, 'config.json') },
      { label: 'list-storage', path: dir, op: 'list' },
      { label: 'list-objects', path: path.join(dir, 'data'), op: 'list' },
      { label: 'read-log', path: path.join(dir, 'store.log') },
      { label: 'overwrite-config', path: path.join(dir, 'config.json'), op: 'write' },
      { label: 'plant-object', path: path.join(dir, 'data', 'planted'), op: 'create' },
      { label: 'environ', path: `/proc/${pid}/environ` },
      { label: 'cwd-config', path: `/proc/${pid}/cwd/config.json` },
      { label: 'root-config', path: `/proc/${pid}/root${dir}/config.json` },
    ];
    const app = probeApp(berth, 'thief', targets);
    const up = await berth.cli(['up', app, '-p', 'os', '-s', 'thief']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const res = await berth.get(berth.hostFor('thief', 'os'), '/probe');
    expect(res.status).toBe(200);
    report = res.body;
  });

  afterAll(async () => {
    await berth.stop();
  });

  it('cannot read or change the store’s config, objects, log or process', () => {
    const results = probeResults(report);
    expect(results.size).toBe(9);
    for (const [target, got] of results) expect(`${target}: ${got}`).toBe(`${target}: DENIED`);
    expect(report).not.toContain(secret);
    const dir = path.join(berth.dataDir, 'storage');
    expect(fs.statSync(dir).mode & 0o077).toBe(0);
    expect(fs.statSync(path.join(dir, 'config.json')).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).not.toContain('pwned');
  });
});
