import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness, type DeploymentRow } from '../helpers/berth.js';
import { needsSandbox } from '../helpers/optional-tools.js';
import { type ProbeTarget, probeApp, probeResults } from '../helpers/probe-app.js';

/**
 * Attack: a project-token holder deploys a build command, preDeployCommand or app that reads the daemon's
 * secrets (admin token, master key, the local CA's key, the database, ~/.npmrc, /proc/<daemon>/environ,
 * another service's files) and prints them into its own logs or HTTP answers. Builds, pre-deploy commands
 * and replicas run sandboxed as their own uid: every read fails and no secret appears anywhere.
 */
const suite = needsSandbox('attack: user code reads the daemon secrets');
describe.skipIf(suite.skip)(suite.title, () => {
  const berth = new BerthHarness();
  const canary = `canary-${randomBytes(12).toString('hex')}`;
  const npmToken = `npm_${randomBytes(12).toString('hex')}`;
  const otherSecret = `other-${randomBytes(12).toString('hex')}`;
  const project = ['-p', 'tenant'];
  let daemonHome: string;
  let otherApp: string;
  let probeId: string;

  const latest = async (service: string): Promise<DeploymentRow> =>
    (await berth.settledDeployments([...project, '-s', service]))[0];

  beforeAll(async () => {
    // The daemon's HOME holds an npm token, as /root/.npmrc would; its environment holds a canary.
    daemonHome = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'berth-home-'));
    fs.writeFileSync(path.join(daemonHome, '.npmrc'), `//registry.npmjs.org/:_authToken=${npmToken}\n`, {
      mode: 0o600,
    });
    berth.daemonEnv = { HOME: daemonHome, BERTH_TEST_CANARY: canary };
    await berth.start();

    const other = probeApp(berth, 'other', []);
    fs.writeFileSync(path.join(other, 'secret.txt'), otherSecret);
    const up = await berth.cli(['up', other, ...project, '-s', 'other']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const otherDeployment = await latest('other');
    otherApp = path.join(berth.dataDir, 'artifacts', otherDeployment.id, 'app');
    expect(fs.readFileSync(path.join(otherApp, 'secret.txt'), 'utf8')).toBe(otherSecret);

    const data = berth.dataDir;
    const targets: ProbeTarget[] = [
      { label: 'admin-token', path: path.join(data, 'admin-token') },
      { label: 'master-key', path: path.join(data, 'master.key') },
      { label: 'ca-key', path: path.join(data, 'ca', 'ca.key') },
      { label: 'state-db', path: path.join(data, 'state.db') },
      { label: 'relative-admin-token', path: '../../../admin-token' },
      { label: 'relative-master-key', path: '../../../master.key' },
      { label: 'data-dir', path: data, op: 'list' },
      { label: 'artifacts', path: path.join(data, 'artifacts'), op: 'list' },
      { label: 'cache', path: path.join(data, 'cache'), op: 'list' },
      { label: 'other-absolute', path: path.join(otherApp, 'secret.txt') },
      { label: 'other-relative', path: path.join('..', '..', otherDeployment.id, 'app', 'secret.txt') },
      { label: 'npmrc', path: path.join(daemonHome, '.npmrc') },
      { label: 'daemon-environ', path: `/proc/${berth.daemon?.pid}/environ` },
      { label: 'write-admin-token', path: path.join(data, 'admin-token'), op: 'write' },
      // Its own environment is readable, and must hold nothing of the daemon's.
      { label: 'own-environ', path: '/proc/self/environ' },
    ];
    const toml = [
      '[build]',
      // The exploit as reported: the build log would show both files.
      'buildCommand = "cat ../../../admin-token ../../../master.key; echo running as $(id -un); node probe.js"',
      '[deploy]',
      'preDeployCommand = "node probe.js"',
      'healthcheckPath = "/"',
    ].join('\n');
    const app = probeApp(berth, 'probe', targets, toml);
    const probeUp = await berth.cli(['up', app, ...project, '-s', 'probe']);
    expect(probeUp.code, probeUp.stdout + probeUp.stderr).toBe(0);
    probeId = (await latest('probe')).id;
  });

  afterAll(async () => {
    await berth.stop();
    fs.rmSync(daemonHome, { recursive: true, force: true });
  });

  /** The secrets as they are on disk and in the daemon's environment. */
  const secrets = () => {
    const read = (f: string) => fs.readFileSync(path.join(berth.dataDir, f), 'utf8').trim();
    const caKey = read('ca/ca.key')
      .split('\n')
      .filter((l) => !l.startsWith('-----'))
      .join('');
    return [read('admin-token'), read('master.key'), caKey.slice(0, 40), npmToken, canary, otherSecret];
  };

  const expectNothingLeaked = (label: string, output: string) => {
    const results = probeResults(output);
    expect(results.size, `${label}: ${output}`).toBe(15);
    expect(results.get('own-environ')).toBe('READ');
    results.delete('own-environ');
    for (const [target, got] of results) {
      // The data dir is an empty stand-in holding only the mount points of what the job may see.
      if (target === 'data-dir') expect(listed(output, target)).toEqual(['artifacts', 'cache', 'sandbox']);
      else if (target === 'artifacts') expect(listed(output, target)).toEqual([probeId]);
      // Of the cache, only the downloaded tools every job may run (read-only).
      else if (target === 'cache') expect(listed(output, target)).toEqual(['package-managers', 'runtimes']);
      else expect(`${target}: ${got}`).toBe(`${target}: DENIED`);
    }
    for (const secret of secrets()) expect(output).not.toContain(secret);
  };
  const listed = (output: string, target: string) =>
    (new RegExp(`PROBE ${target} LISTED (\\S*)`).exec(output)?.[1] ?? '').split(',').sort();

  it('a build command cannot read or print them', async () => {
    const log = await berth.cli(['logs', probeId, '--build', ...project, '-s', 'probe']);
    expect(log.stdout).toContain('admin-token: No such file or directory');
    expect(log.stdout).toMatch(/running as berth-2\d{6}\n/);
    expectNothingLeaked('build log', log.stdout);
  });

  it('a preDeployCommand cannot read them', async () => {
    const log = await berth.cli(['logs', probeId, ...project, '-s', 'probe']);
    expect(log.stdout).toContain('Running preDeployCommand');
    expectNothingLeaked('deploy log', log.stdout);
  });

  it('a replica cannot read them', async () => {
    const res = await berth.get(berth.hostFor('probe', 'tenant'), '/probe');
    expect(res.status).toBe(200);
    expectNothingLeaked('replica', res.body);
  });

  it('the secrets are still where the daemon keeps them, untouched', () => {
    expect(fs.existsSync(path.join(berth.dataDir, 'ca', 'ca.key'))).toBe(true);
    expect(fs.readFileSync(path.join(berth.dataDir, 'admin-token'), 'utf8')).not.toContain('pwned');
    expect(fs.statSync(berth.dataDir).mode & 0o777).toBe(0o700);
  });
});
