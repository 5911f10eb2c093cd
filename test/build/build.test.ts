import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, readArtifact } from '../../src/build/index.js';
import { parseProcfile } from '../../src/build/procfile.js';
import { pyprojectDependencies } from '../../src/build/python.js';
import type { BuildRequest, BuildResult } from '../../src/build/types.js';
import { defaultServiceConfig } from '../../src/core/config/index.js';
import { BuildError } from '../../src/core/errors.js';
import type { ServiceConfig } from '../../src/core/model.js';
import { freePort } from '../../src/lib/net.js';
import { waitFor } from '../../src/lib/wait.js';
import { killGroup, makeTmpDir } from '../helpers/tmp.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'apps');

interface Overrides {
  build?: Partial<ServiceConfig['build']>;
  deploy?: Partial<ServiceConfig['deploy']>;
}

function config(o: Overrides = {}): ServiceConfig {
  const base = defaultServiceConfig();
  return { build: { ...base.build, ...o.build }, deploy: { ...base.deploy, ...o.deploy } };
}

type Line = { line: string; stream: 'stdout' | 'stderr' | 'system' };

let root: { dir: string; cleanup: () => void };
let cacheDir: string;
let counter = 0;

beforeAll(() => {
  root = makeTmpDir('berth-build-');
  cacheDir = path.join(root.dir, 'cache');
});
afterAll(() => root.cleanup());

/** A fresh `<tmp>/<n>/app` holding a copy of the fixture (or the given files). */
function appFrom(fixture: string | Record<string, string>): string {
  const appDir = path.join(root.dir, `d${++counter}`, 'app');
  fs.mkdirSync(appDir, { recursive: true });
  if (typeof fixture === 'string') {
    fs.cpSync(path.join(FIXTURES, fixture), appDir, { recursive: true });
  } else {
    for (const [name, text] of Object.entries(fixture)) {
      fs.mkdirSync(path.dirname(path.join(appDir, name)), { recursive: true });
      fs.writeFileSync(path.join(appDir, name), text);
    }
  }
  return appDir;
}

function request(appDir: string, o: Partial<BuildRequest> & { cfg?: Overrides } = {}) {
  const lines: Line[] = [];
  const req: BuildRequest = {
    appDir,
    cacheDir: o.cacheDir ?? cacheDir,
    config: config(o.cfg),
    env: o.env ?? {},
    log: (line, stream) => lines.push({ line, stream }),
    signal: o.signal ?? new AbortController().signal,
    timeoutMs: o.timeoutMs ?? 110_000,
  };
  return { req, lines };
}

async function buildError(p: Promise<BuildResult>): Promise<BuildError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BuildError);
  return err as BuildError;
}

/** True while pid runs (a zombie waiting to be reaped counts as dead). */
function pidAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('buildApp: node', () => {
  let first: BuildResult;
  let firstApp: string;
  let firstMs: number;

  it('installs dependencies, picks the start script and writes artifact.json', async () => {
    firstApp = appFrom('node-deps');
    const { req, lines } = request(firstApp);
    const t0 = Date.now();
    first = await buildApp(req);
    firstMs = Date.now() - t0;
    expect(first).toMatchObject({
      provider: 'node',
      kind: 'process',
      startCommand: 'npm run start',
      staticRoot: null,
      cache: 'miss',
    });
    expect(first.runtimeEnv.NODE_ENV).toBe('production');
    expect(first.runtimeEnv.PATH.split(':')[0]).toBe(path.join(firstApp, 'node_modules', '.bin'));
    expect(fs.existsSync(path.join(firstApp, 'node_modules', 'ms', 'package.json'))).toBe(true);
    expect(lines.some((l) => l.stream === 'system' && l.line.includes('$ npm ci'))).toBe(true);
    expect(lines.some((l) => l.stream === 'system' && /cache miss/.test(l.line))).toBe(true);
    expect(readArtifact(path.dirname(firstApp))).toEqual(first);
    expect(fs.existsSync(path.join(cacheDir, 'npm'))).toBe(true);
  });

  it('reuses the cached install for the same lockfile: a hit, nothing installed, faster', async () => {
    const appDir = appFrom('node-deps');
    const { req, lines } = request(appDir);
    const t0 = Date.now();
    const second = await buildApp(req);
    const secondMs = Date.now() - t0;
    expect(second.cache).toBe('hit');
    expect(second.startCommand).toBe('npm run start');
    expect(lines.some((l) => l.line.includes('npm ci'))).toBe(false);
    const linked = path.join(appDir, 'node_modules', 'ms', 'index.js');
    expect(fs.existsSync(linked)).toBe(true);
    // Hardlinked from the cache, not copied.
    expect(fs.statSync(linked).nlink).toBeGreaterThan(1);
    expect(secondMs).toBeLessThan(firstMs);
  });

  it('the built app runs with its start command', async () => {
    const port = await freePort();
    const child = spawn('sh', ['-c', first.startCommand ?? 'false'], {
      cwd: firstApp,
      env: { HOME: process.env.HOME ?? '/root', ...first.runtimeEnv, PORT: String(port) },
      detached: true,
      stdio: 'ignore',
    });
    try {
      const body = await waitFor(
        'the node-deps app to answer',
        async () => {
          const res = await fetch(`http://127.0.0.1:${port}/`);
          return res.ok ? ((await res.json()) as { version: string; ms: number }) : null;
        },
        { timeoutMs: 20_000 },
      );
      expect(body).toEqual({ version: 'v1', ms: 60_000 });
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      expect(health.status).toBe(200);
    } finally {
      if (child.pid) killGroup(child.pid, 'SIGTERM');
    }
  });

  it('NO_CACHE=1 installs without the cache', async () => {
    const appDir = appFrom('node-deps');
    const { req } = request(appDir, { env: { NO_CACHE: '1' } });
    const result = await buildApp(req);
    expect(result.cache).toBe('none');
    expect(fs.existsSync(path.join(appDir, 'node_modules', 'ms'))).toBe(true);
  });

  it('a package.json with a build script and no start is served statically from dist', async () => {
    const appDir = appFrom({
      'package.json': JSON.stringify({
        name: 'spa',
        scripts: { build: 'mkdir -p dist && echo "<h1>spa</h1>" > dist/index.html' },
      }),
    });
    const { req } = request(appDir);
    const result = await buildApp(req);
    expect(result).toMatchObject({
      provider: 'node',
      kind: 'static',
      staticRoot: 'dist',
      startCommand: null,
    });
    expect(fs.readFileSync(path.join(appDir, 'dist', 'index.html'), 'utf8')).toContain('spa');
  });
});

describe('buildApp: python', () => {
  it('creates a cached venv and starts main.py', async () => {
    const appDir = appFrom('python-stdlib');
    const { req } = request(appDir);
    const result = await buildApp(req);
    expect(result).toMatchObject({ provider: 'python', kind: 'process', startCommand: 'python main.py' });
    expect(['miss', 'hit']).toContain(result.cache);
    const venv = result.runtimeEnv.VIRTUAL_ENV;
    expect(venv.startsWith(path.join(cacheDir, 'venv'))).toBe(true);
    expect(fs.existsSync(path.join(venv, 'bin', 'python'))).toBe(true);
    expect(result.runtimeEnv.PATH.split(':')[0]).toBe(path.join(venv, 'bin'));
    expect(result.runtimeEnv.PYTHONUNBUFFERED).toBe('1');

    const again = await buildApp(request(appFrom('python-stdlib')).req);
    expect(again.cache).toBe('hit');
    expect(again.runtimeEnv.VIRTUAL_ENV).toBe(venv);

    // The venv's python runs the app.
    const port = await freePort();
    const child = spawn('sh', ['-c', result.startCommand ?? 'false'], {
      cwd: appDir,
      env: { HOME: process.env.HOME ?? '/root', ...result.runtimeEnv, PORT: String(port) },
      detached: true,
      stdio: 'ignore',
    });
    try {
      const res = await waitFor(
        'the python app to answer',
        async () => {
          const r = await fetch(`http://127.0.0.1:${port}/health`);
          return r.ok ? r : null;
        },
        { timeoutMs: 20_000 },
      );
      expect(res.status).toBe(200);
    } finally {
      if (child.pid) killGroup(child.pid, 'SIGTERM');
    }
  });

  it("broken python3 shims earlier on PATH (pyenv's, without their versions) do not hide the working interpreters", async () => {
    const shims = path.join(root.dir, 'broken-shims');
    fs.mkdirSync(shims, { recursive: true });
    // A shim for every name the system's interpreters have, as pyenv's shims directory holds.
    const names = new Set(['python3']);
    for (const dir of ['/usr/local/bin', '/usr/bin']) {
      for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : [])
        if (/^python3(\.\d+)?$/.test(f)) names.add(f);
    }
    for (const name of names) {
      fs.writeFileSync(
        path.join(shims, name),
        `#!/bin/sh\necho "pyenv: ${name}: command not found" >&2\nexit 127\n`,
        { mode: 0o755 },
      );
    }
    const { req, lines } = request(appFrom('python-stdlib'), {
      env: { PATH: `${shims}:/usr/local/bin:/usr/bin:/bin` },
    });
    const result = await buildApp(req);
    expect(result.provider).toBe('python');
    const chosen = lines.find((l) => /^Python 3\.\d+\.\d+ \(/.test(l.line))?.line ?? '';
    expect(chosen).toMatch(/^Python 3\.\d+\.\d+ \(\/usr\/(local\/)?bin\/python3[.\d]*\)/);
  });

  it('Node beats Python unless only Python has something to run', async () => {
    const both = await buildApp(
      request(
        appFrom({
          'package.json': JSON.stringify({ name: 'x', scripts: { start: 'node index.js' } }),
          'index.js': '',
          'requirements.txt': '',
          'main.py': '',
        }),
      ).req,
    );
    expect(both.provider).toBe('node');
    const onlyPython = await buildApp(
      request(
        appFrom({ 'package.json': JSON.stringify({ name: 'x' }), 'main.py': '', 'requirements.txt': '' }),
      ).req,
    );
    expect(onlyPython).toMatchObject({ provider: 'python', startCommand: 'python main.py' });
  });
});

describe('buildApp: static, Procfile, shell', () => {
  it('serves a static site from its root', async () => {
    const appDir = appFrom('static-site');
    const result = await buildApp(request(appDir).req);
    expect(result).toEqual({
      provider: 'static',
      kind: 'static',
      startCommand: null,
      staticRoot: '.',
      staticFallback: null,
      runtimeEnv: {},
      notes: [],
      cache: 'none',
    });
  });

  it('uses the Staticfile root, else dist/ or public/', async () => {
    const withStaticfile = await buildApp(
      request(appFrom({ Staticfile: 'root: site\n', 'site/index.html': 'hi' })).req,
    );
    expect(withStaticfile.staticRoot).toBe('site');
    const withPublic = await buildApp(request(appFrom({ 'public/index.html': 'hi' })).req);
    expect(withPublic).toMatchObject({ provider: 'static', staticRoot: 'public' });
    const err = await buildError(buildApp(request(appFrom({ Staticfile: 'root: ../..\n' })).req));
    expect(err.message).toMatch(/outside the app/);
  });

  it('picks the Procfile web entry and never the release entry', async () => {
    const appDir = appFrom('procfile-app');
    const result = await buildApp(request(appDir).req);
    expect(result).toMatchObject({ provider: 'procfile', kind: 'process', startCommand: 'node web.js' });
    expect(result.notes.join('\n')).toMatch(/release entry \("echo release"\)/);
  });

  it('parses Procfiles: web > worker > first, release ignored', () => {
    expect(parseProcfile('release: migrate\nworker: node w.js\nweb: node s.js\n').start?.command).toBe(
      'node s.js',
    );
    expect(parseProcfile('release: migrate\nclock: node c.js\nworker: node w.js').start?.command).toBe(
      'node w.js',
    );
    expect(parseProcfile('release: migrate\nclock: node c.js').start?.command).toBe('node c.js');
    expect(parseProcfile('release: migrate').start).toBeNull();
  });

  it('runs a bare deploy.startCommand as the shell provider', async () => {
    const result = await buildApp(
      request(appFrom({ 'run.sh': 'echo hi' }), { cfg: { deploy: { startCommand: 'sh run.sh' } } }).req,
    );
    expect(result).toMatchObject({ provider: 'shell', kind: 'process', startCommand: 'sh run.sh' });
  });

  it('railpack.json alone: its install, build and start commands make a shell app, each logged with its origin', async () => {
    const { req, lines } = request(
      appFrom({
        'railpack.json': JSON.stringify({
          steps: {
            install: { commands: ['echo deps > deps.txt'] },
            build: { commands: ['cat deps.txt > out.txt'] },
          },
          deploy: { startCommand: 'cat out.txt' },
        }),
      }),
    );
    const result = await buildApp(req);
    expect(result).toMatchObject({ provider: 'shell', startCommand: 'cat out.txt' });
    expect(fs.readFileSync(path.join(req.appDir, 'out.txt'), 'utf8')).toBe('deps\n');
    const log = lines.map((l) => l.line);
    expect(log).toContain('detected provider: shell (railpack.json deploy.startCommand is set)');
    expect(log).toContain('install command from railpack.json steps.install: echo deps > deps.txt');
    expect(log).toContain('build command from railpack.json steps.build: cat deps.txt > out.txt');
  });

  it("RAILPACK_INSTALL_CMD replaces a Node app's install, uncached", async () => {
    const { req, lines } = request(
      appFrom({ 'package.json': '{"name":"x","version":"1.0.0","scripts":{"start":"node -e 1"}}' }),
      { env: { RAILPACK_INSTALL_CMD: 'echo custom > installed.txt' } },
    );
    const result = await buildApp(req);
    expect(result).toMatchObject({ provider: 'node', cache: 'none' });
    expect(fs.readFileSync(path.join(req.appDir, 'installed.txt'), 'utf8')).toBe('custom\n');
    expect(lines.map((l) => l.line)).toContain(
      'install command from RAILPACK_INSTALL_CMD: echo custom > installed.txt',
    );
  });

  it('railpack.json provider forces the provider; one Berth lacks is warned about and detection decides', async () => {
    const forced = request(
      appFrom({
        'index.html': '<h1>hi</h1>',
        'main.py': 'print(1)\n',
        'railpack.json': '{"provider": "staticfile"}',
      }),
    );
    expect(await buildApp(forced.req)).toMatchObject({ provider: 'static', kind: 'static' });
    expect(forced.lines.map((l) => l.line)).toContain(
      'detected provider: static (forced by railpack.json provider)',
    );
    const unknown = request(
      appFrom({ 'index.html': '<h1>hi</h1>', 'railpack.json': '{"provider": "gleam"}' }),
    );
    expect(await buildApp(unknown.req)).toMatchObject({ provider: 'static' });
    expect(unknown.lines.map((l) => l.line)).toContain(
      'warning: railpack.json provider "gleam" is not a provider Berth has; detecting the provider instead',
    );
  });

  it('reads pyproject dependencies', () => {
    const text =
      '[project]\nname = "x"\ndependencies = [\n  "flask[async]>=3", # web\n  \'gunicorn\',\n]\n[tool.x]\n';
    expect(pyprojectDependencies(text)).toEqual(['flask[async]>=3', 'gunicorn']);
  });
});

describe('buildApp: errors', () => {
  it('fails clearly when only a Dockerfile can build the app', async () => {
    const err = await buildError(buildApp(request(appFrom({ Dockerfile: 'FROM scratch\n' })).req));
    expect(err.message).toBe(
      'This app can only be built from its Dockerfile, and no container engine driver is configured; add a package.json, requirements.txt, Procfile or index.html, or set deploy.startCommand',
    );
  });

  it('builds natively with a note when a Dockerfile sits next to package.json', async () => {
    const appDir = appFrom('node-deps');
    fs.mkdirSync(path.join(appDir, 'backend'));
    fs.writeFileSync(path.join(appDir, 'backend', 'Dockerfile'), 'FROM node:20\n');
    const { req, lines } = request(appDir, {
      cfg: { build: { builder: 'DOCKERFILE', dockerfilePath: 'backend/Dockerfile' } },
    });
    const result = await buildApp(req);
    const note =
      'DOCKERFILE builder requested (backend/Dockerfile); no container engine driver is configured, so Berth builds natively with the node provider';
    expect(result.provider).toBe('node');
    expect(result.notes).toContain(note);
    expect(lines).toContainEqual({ line: note, stream: 'system' });

    const rootDockerfile = appFrom('static-site');
    fs.writeFileSync(path.join(rootDockerfile, 'Dockerfile'), 'FROM nginx\n');
    const r2 = await buildApp(request(rootDockerfile).req);
    expect(r2.notes[0]).toMatch(/^Found a Dockerfile \(Dockerfile\); .* natively with the static provider$/);
  });

  it('says what to add when nothing is detected', async () => {
    const err = await buildError(buildApp(request(appFrom({ 'README.md': '# hi' })).req));
    expect(err.message).toBe(
      'Berth could not tell how to build this app: no package.json, requirements.txt, pyproject.toml, Procfile or index.html at the root; add one or set deploy.startCommand in railway.toml',
    );
  });

  it('a failing buildCommand names the command and shows its last output lines', async () => {
    const buildCommand = 'for i in 1 2 3 4 5 6 7; do echo line$i; done; echo broken >&2; exit 3';
    const { req, lines } = request(appFrom('static-site'), { cfg: { build: { buildCommand } } });
    const err = await buildError(buildApp(req));
    expect(err.message).toBe(`"${buildCommand}" exited with code 3: line4 | line5 | line6 | line7 | broken`);
    expect(lines).toContainEqual({ line: 'line1', stream: 'stdout' });
    expect(lines).toContainEqual({ line: 'broken', stream: 'stderr' });
    expect(fs.existsSync(path.join(path.dirname(req.appDir), 'artifact.json'))).toBe(false);
  });

  it('an abort kills the whole build process group', async () => {
    const appDir = appFrom('static-site');
    const pidFile = path.join(appDir, 'sleeper.pid');
    const ac = new AbortController();
    const { req } = request(appDir, {
      signal: ac.signal,
      cfg: { build: { buildCommand: `sleep 60 & echo $! > ${pidFile}; wait` } },
    });
    const p = buildApp(req);
    const pid = await waitFor('the build to start its sleeper', () => {
      const text = fs.existsSync(pidFile) ? fs.readFileSync(pidFile, 'utf8').trim() : '';
      return text ? Number(text) : null;
    });
    expect(pidAlive(pid)).toBe(true);
    const t0 = Date.now();
    ac.abort();
    const err = await buildError(p);
    expect(err.message).toMatch(/cancelled/);
    expect(Date.now() - t0).toBeLessThan(3000);
    await waitFor('the sleeper to die', () => !pidAlive(pid), { timeoutMs: 5000 });
  });

  it('a build over its time limit fails saying so', async () => {
    const { req } = request(appFrom('static-site'), {
      timeoutMs: 500,
      cfg: { build: { buildCommand: 'sleep 30' } },
    });
    const t0 = Date.now();
    const err = await buildError(buildApp(req));
    expect(err.message).toBe('build exceeded its time limit of 0.5 s');
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('readArtifact fails clearly when there is no artifact', () => {
    expect(() => readArtifact(path.join(root.dir, 'nope'))).toThrow(/No build artifact/);
  });
});
