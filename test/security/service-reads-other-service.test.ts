import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness } from '../helpers/berth.js';
import { needsSandbox } from '../helpers/optional-tools.js';
import { groupPids, type ProbeTarget, probeApp, probeResults } from '../helpers/probe-app.js';

/**
 * Attack: a tenant's replica reads or changes another service's files — its artifact, its running
 * process's working directory and environment (/proc/<pid>/cwd, /environ) — whether that service is in
 * another project or in the same one. Each service runs as its own uid in its own mount and pid namespace.
 */
const suite = needsSandbox('attack: a service reads or writes another service');
describe.skipIf(suite.skip)(suite.title, () => {
  const berth = new BerthHarness();
  const victimSecret = `victim-${randomBytes(12).toString('hex')}`;
  const victimVariable = `var-${randomBytes(12).toString('hex')}`;
  let victimApp: string;
  let report: string;

  beforeAll(async () => {
    await berth.start();
    const victim = probeApp(berth, 'victim', []);
    fs.writeFileSync(path.join(victim, 'secret.txt'), victimSecret);
    const up = await berth.cli(['up', victim, '-p', 'bank', '-s', 'vault']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    // A variable in the victim's process environment (this deploys it again).
    const set = await berth.cli([
      'variables',
      'set',
      `VICTIM_SECRET=${victimVariable}`,
      '-p',
      'bank',
      '-s',
      'vault',
    ]);
    expect(set.code, set.stdout + set.stderr).toBe(0);
    const [deployment] = await berth.settledDeployments(['-p', 'bank', '-s', 'vault']);
    expect(deployment.status).toBe('SUCCESS');
    victimApp = path.join(berth.dataDir, 'artifacts', deployment.id, 'app');

    const db = new Database(path.join(berth.dataDir, 'state.db'), { readonly: true });
    const { pid } = db
      .prepare(
        "SELECT json_extract(handle_json, '$.pid') AS pid FROM workloads WHERE owner_id = ? AND state = 'running'",
      )
      .get(deployment.id) as { pid: number };
    db.close();
    const victimPids = groupPids(pid);
    expect(victimPids.length).toBeGreaterThan(1); // bwrap and the app inside it

    const targets: ProbeTarget[] = [
      { label: 'read-secret', path: path.join(victimApp, 'secret.txt') },
      { label: 'read-relative', path: path.join('..', '..', deployment.id, 'app', 'secret.txt') },
      { label: 'list-app', path: victimApp, op: 'list' },
      { label: 'append-secret', path: path.join(victimApp, 'secret.txt'), op: 'write' },
      { label: 'create-file', path: path.join(victimApp, 'planted.js'), op: 'create' },
      { label: 'overwrite-web', path: path.join(victimApp, 'web.js'), op: 'write' },
      ...victimPids.flatMap((p): ProbeTarget[] => [
        { label: `environ-${p}`, path: `/proc/${p}/environ` },
        { label: `cwd-${p}`, path: `/proc/${p}/cwd/secret.txt` },
        { label: `root-${p}`, path: `/proc/${p}/root${victimApp}/secret.txt` },
      ]),
    ];
    // The attacker twice: a service of another project, and a service next to the victim in its own project.
    for (const [project, service] of [
      ['mallory', 'thief'],
      ['bank', 'teller'],
    ]) {
      const app = probeApp(berth, `${project}-${service}`, targets);
      const attackerUp = await berth.cli(['up', app, '-p', project, '-s', service]);
      expect(attackerUp.code, attackerUp.stdout + attackerUp.stderr).toBe(0);
      const res = await berth.get(berth.hostFor(service, project), '/probe');
      expect(res.status).toBe(200);
      report = `${report ?? ''}\n${res.body}`;
    }
  });

  afterAll(async () => {
    await berth.stop();
  });

  it("cannot read the other service's files, process environment or working directory", () => {
    const results = probeResults(report);
    expect(results.size).toBeGreaterThan(8);
    for (const [target, got] of results) expect(`${target}: ${got}`).toBe(`${target}: DENIED`);
    expect(report).not.toContain(victimSecret);
    expect(report).not.toContain(victimVariable);
  });

  it("cannot change the other service's files", async () => {
    expect(fs.readFileSync(path.join(victimApp, 'secret.txt'), 'utf8')).toBe(victimSecret);
    expect(fs.existsSync(path.join(victimApp, 'planted.js'))).toBe(false);
    expect(fs.readFileSync(path.join(victimApp, 'web.js'), 'utf8')).not.toContain('pwned');
    expect((await berth.get(berth.hostFor('vault', 'bank'))).body).toBe(victimSecret);
  });
});
