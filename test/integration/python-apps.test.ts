import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness } from '../helpers/berth.js';

/** The locked fastapi must be downloadable with the host's pip configuration (a mirror here; PyPI elsewhere). */
function pipReaches(spec: string): boolean {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-pip-probe-'));
  try {
    const r = spawnSync(
      'python3',
      ['-m', 'pip', 'download', '--no-deps', '--retries', '0', '-d', dir, spec],
      {
        timeout: 120_000,
        stdio: 'ignore',
      },
    );
    return r.status === 0;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
const reachable = pipReaches('fastapi==0.142.2');
if (!reachable)
  console.warn(
    'python-apps: skipped, pip cannot download fastapi==0.142.2 on this host (no index or mirror)',
  );

/**
 * Python apps shaped like Railway's FastAPI starters, through the real daemon and CLI: the version asked for
 * is chosen among the host's interpreters, and uv.lock's pins are what gets installed.
 */
describe.runIf(reachable)('Python apps like Railpack builds them', () => {
  const berth = new BerthHarness();
  beforeAll(async () => {
    await berth.start();
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('a FastAPI app with requires-python and uv.lock installs the locked versions and starts with uvicorn', async () => {
    const dir = berth.app('python-uv');
    // This host reaches Python packages only through its local mirror; pip's retries of PyPI (which does not
    // resolve here) would add minutes, so the service does what a team behind a mirror does.
    expect((await berth.cli(['init', '--name', 'py'])).code).toBe(0);
    expect((await berth.cli(['add', '--service', 'api', '-p', 'py'])).code).toBe(0);
    const set = await berth.cli([
      'variables',
      'set',
      'PIP_RETRIES=0',
      '--skip-deploys',
      '-p',
      'py',
      '-s',
      'api',
    ]);
    expect(set.code, set.stderr).toBe(0);
    const up = await berth.cli(['up', dir, '-p', 'py', '-s', 'api']);
    const out = up.stdout + up.stderr;
    expect(up.code, out).toBe(0);
    const res = await berth.get(berth.hostFor('api', 'py'));
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body) as Record<string, unknown>;
    // uv.lock pins fastapi 0.142.2; the start command is Railpack's uvicorn main:app on $PORT.
    expect(body).toMatchObject({ app: 'python-uv', fastapi: '0.142.2', venv: true });
    expect(body.python).toMatch(/^3\.11\./);
    expect(body.port).toMatch(/^\d+$/);
    const logs = await berth.cli(['logs', '--build', '-p', 'py', '-s', 'api']);
    const buildLog = logs.stdout + logs.stderr;
    expect(buildLog).toMatch(/Python 3\.11\.\d+ \(.*python3[.\d]*\), for 3\.11 from \.python-version/);
    expect(buildLog).toContain('uv is not installed on this host: installing uv.lock by its exported pins');
    expect(buildLog).toContain('start command: uvicorn main:app --host 0.0.0.0 --port ${PORT:-8000}');
  });

  it('a uv.lock out of date with pyproject, or a Python the host lacks, fails in one sentence and keeps serving', async () => {
    const dir = berth.app('python-uv', 'stale');
    const pyproject = path.join(dir, 'pyproject.toml');
    fs.writeFileSync(
      pyproject,
      fs.readFileSync(pyproject, 'utf8').replace('"uvicorn>=0.30",', '"uvicorn>=0.30",\n    "httpx>=0.27",'),
    );
    const stale = await berth.cli(['up', dir, '-p', 'py', '-s', 'api']);
    expect(stale.code).not.toBe(0);
    expect(stale.stdout + stale.stderr).toContain(
      'uv.lock is out of date (pyproject.toml has httpx that uv.lock does not); run `uv lock` and commit uv.lock',
    );

    const old = berth.app('python-uv', 'old');
    fs.writeFileSync(path.join(old, '.python-version'), '3.4\n');
    const up = await berth.cli(['up', old, '-p', 'py', '-s', 'api']);
    expect(up.code).not.toBe(0);
    expect(up.stdout + up.stderr).toMatch(
      /Python 3\.4 was asked for \(\.python-version\), but this host has only Python 3\.\d+\.\d+ \(\/[^)]*python3[.\d]*\)/,
    );
    // The first deployment still answers.
    expect((await berth.get(berth.hostFor('api', 'py'))).status).toBe(200);
  });
});
