import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness, CLI } from '../helpers/berth.js';
import { killGroup, makeTmpDir } from '../helpers/tmp.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
/** The last Berth that kept replicas in the `instances` table (pid and start time as columns). */
const PREVIOUS = 'e6674f6';

/**
 * Builds PREVIOUS from this repository's history into a temp dir (or takes BERTH_PREVIOUS_BUILD, a checkout of it
 * with dist/ built) and returns its CLI entry point, or why it cannot.
 */
function previousBerth(tmpDir: string): { cli: string } | { skip: string } {
  const given = process.env.BERTH_PREVIOUS_BUILD;
  if (given) return { cli: path.join(given, 'dist', 'cli', 'main.js') };
  try {
    execFileSync('git', ['-C', ROOT, 'cat-file', '-e', `${PREVIOUS}^{commit}`], { stdio: 'ignore' });
  } catch {
    return { skip: `upgrade test not run: commit ${PREVIOUS} is not in this checkout's history` };
  }
  const dir = path.join(tmpDir, 'previous');
  fs.mkdirSync(dir);
  const tar = execFileSync(
    'git',
    ['-C', ROOT, 'archive', '--format=tar', PREVIOUS, 'src', 'bin', 'package.json', 'tsconfig.json'],
    {
      maxBuffer: 256 * 1024 * 1024,
    },
  );
  execFileSync('tar', ['-x', '-C', dir], { input: tar });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  execFileSync(
    process.execPath,
    [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'],
    {
      cwd: dir,
      stdio: 'ignore',
    },
  );
  return { cli: path.join(dir, 'dist', 'cli', 'main.js') };
}

interface Replica {
  pid: number | null;
  state: string;
  restarts: number;
}

/**
 * A daemon upgraded while replicas run: the previous Berth deploys two replicas and is killed; this Berth
 * starts on the same data dir, migrates its state, re-adopts the replicas without restarting them, and
 * restarts one that is killed afterwards by its restart policy.
 */
describe('upgrading Berth while replicas run', () => {
  const berth = new BerthHarness();
  const scope = ['-p', 'up', '-s', 'web'];
  let build: { dir: string; cleanup: () => void };
  let previous: { cli: string } | { skip: string };
  let deploymentId = '';

  beforeAll(async () => {
    build = makeTmpDir('berth-previous-');
    previous = previousBerth(build.dir);
    if ('skip' in previous) return;
    berth.cliEntry = previous.cli;
    await berth.start();
    const app = berth.app('lifecycle', 'web');
    const toml = path.join(app, 'railway.toml');
    fs.writeFileSync(toml, fs.readFileSync(toml, 'utf8').replace('[deploy]', '[deploy]\nnumReplicas = 2'));
    const up = await berth.cli(['up', app, ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const [d] = await berth.settledDeployments(scope);
    expect(d.status).toBe('SUCCESS');
    deploymentId = d.id;
  }, 240_000);

  afterAll(async () => {
    if (berth.dataDir) await berth.stop();
    build.cleanup();
  });

  const replicas = async (): Promise<Replica[]> => {
    const res = await request(`${berth.url}/v1/deployments/${deploymentId}`, {
      headers: { authorization: `Bearer ${berth.token}` },
    });
    return ((await res.body.json()) as { replicas: Replica[] }).replicas;
  };

  it('re-adopts the running replicas, then restarts a killed one by policy', async (ctx) => {
    if ('skip' in previous) return ctx.skip();
    const host = berth.hostFor('web', 'up');
    const before = await replicas();
    expect(before.map((r) => r.state)).toEqual(['running', 'running']);

    const tablesNamed = () => {
      const db = new Database(path.join(berth.dataDir, 'state.db'), { readonly: true });
      const names = db
        .prepare("SELECT name FROM sqlite_master WHERE name IN ('instances', 'workloads')")
        .all();
      db.close();
      return names;
    };
    expect(tablesNamed()).toEqual([{ name: 'instances' }]); // the previous schema really ran

    await berth.killDaemon();
    berth.cliEntry = CLI;
    await berth.startDaemon();

    // The schema moved on: replicas are workloads now, each with the handle the migration built.
    expect(tablesNamed()).toEqual([{ name: 'workloads' }]);
    const db = new Database(path.join(berth.dataDir, 'state.db'), { readonly: true });
    const handles = db
      .prepare("SELECT json_extract(handle_json, '$.pid') AS pid FROM workloads WHERE owner_kind = 'replica'")
      .all() as { pid: number }[];
    db.close();
    expect(handles.map((h) => h.pid).sort()).toEqual(before.map((r) => r.pid).sort());

    // The same processes, adopted: nothing was restarted by the upgrade.
    const adopted = await replicas();
    expect(adopted.map((r) => [r.pid, r.state, r.restarts])).toEqual(
      before.map((r) => [r.pid, 'running', 0]),
    );
    expect((await berth.get(host)).body).toBe('v1');

    killGroup(before[0].pid as number);
    const after = await waitFor(
      'the killed replica to be restarted by policy',
      async () => {
        const rs = await replicas();
        return rs[0].state === 'running' && rs[0].pid !== before[0].pid ? rs : null;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    expect(after[0].restarts).toBe(1);
    expect([after[1].pid, after[1].state, after[1].restarts]).toEqual([before[1].pid, 'running', 0]);
    await waitFor('traffic on both replicas', async () => (await berth.get(host)).body === 'v1');
    const [d] = await berth.settledDeployments(scope);
    expect(d.status).toBe('SUCCESS');
  });
});
