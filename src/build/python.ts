/**
 * Python provider, like Railpack's: the Python the app asks for (python-version.ts), a virtualenv with its
 * dependencies (requirements.txt > uv.lock > poetry.lock > pdm.lock > Pipfile(.lock) > pyproject), cached by
 * their content and the interpreter, and a start command (Django, FastAPI, Flask, main file). Venvs are not
 * relocatable, so the artifact points at the cached venv itself (runtimeEnv VIRTUAL_ENV and PATH).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { BuildError } from '../core/errors.js';
import { readAppText } from './app-files.js';
import {
  cacheKey,
  cacheOwner,
  findVenv,
  giveTree,
  newVenvDir,
  publishVenv,
  sealTree,
  sha256,
} from './cache.js';
import type { Detection } from './detect.js';
import { type BuildContext, basePath, commandEnv, run, runShell, which } from './exec.js';
import { pipSettingsForBuild } from './pip-config.js';
import {
  type LockedRequirement,
  type LockKind,
  pdmLockRequirements,
  pipfileLockRequirements,
  poetryLockRequirements,
  requirementsText,
  uvLockRequirements,
} from './python-lock.js';
import { type HostPython, PYTHON_NAME, pickPython, pythonRequest } from './python-version.js';
import type { BuildResult } from './types.js';

/** How the dependencies get into the venv. */
export interface PythonDeps {
  /** The file they come from. */
  source: string;
  /**
   * pip: `pip install <pipArgs>`; pip-locked: a lockfile's pins, hash-checked, with `pip install --require-hashes
   * --no-deps -r` (the lock's tool is not on this host); uv: `uv sync --locked` with the host's uv.
   */
  mode: 'pip' | 'pip-locked' | 'uv';
  /** Arguments after `pip install` (mode pip); empty when there is nothing to install. */
  pipArgs: string[];
  /** requirements text (mode pip-locked). */
  locked: string;
  /** Packages pinned (mode pip-locked), for the log. */
  count: number;
  /** What the cache key hashes. */
  key: string;
}

/** True when a requirements file has at least one line that is not blank or a comment. */
export function hasRequirements(text: string): boolean {
  return text.split(/\r?\n/).some((l) => {
    const t = l.trim();
    return t !== '' && !t.startsWith('#');
  });
}

/**
 * The `[project] dependencies = [...]` strings of a pyproject.toml (a small scanner, enough for the
 * array-of-strings form; Berth installs them with pip rather than building the project itself).
 */
export function pyprojectDependencies(text: string): string[] {
  const lines = text.split(/\r?\n/);
  let inProject = false;
  let body = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^\s*\[/.test(line) && !/^\s*\[\s*"/.test(line)) {
      inProject = /^\s*\[project\]\s*(#.*)?$/.test(line);
      continue;
    }
    if (inProject && /^\s*dependencies\s*=/.test(line)) {
      body = lines
        .slice(i)
        .join('\n')
        .replace(/^\s*dependencies\s*=\s*/, '');
      break;
    }
  }
  if (!body.startsWith('[')) return [];
  const deps: string[] = [];
  let quote: string | null = null;
  let current = '';
  for (let i = 1; i < body.length; i++) {
    const c = body[i];
    if (quote) {
      if (c === quote) {
        deps.push(current);
        current = '';
        quote = null;
      } else current += c;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#') {
      const nl = body.indexOf('\n', i);
      if (nl === -1) break;
      i = nl;
    } else if (c === ']') break;
  }
  return deps.map((d) => d.trim()).filter((d) => d !== '');
}

const LOCK_READERS: Array<{ file: LockKind; tool: string; read: (text: string) => LockedRequirement[] }> = [
  { file: 'poetry.lock', tool: 'poetry', read: poetryLockRequirements },
  { file: 'pdm.lock', tool: 'pdm', read: pdmLockRequirements },
];

/** The dependency plan, in Railpack's order. `uv` is the host's uv when it has one. */
export function readDeps(appDir: string, uv: string | null): PythonDeps | null {
  const read = (f: string) => readAppText(appDir, f);
  const none = { pipArgs: [], locked: '', count: 0 };
  const req = read('requirements.txt');
  if (req !== null) {
    return {
      ...none,
      source: 'requirements.txt',
      mode: 'pip',
      pipArgs: hasRequirements(req) ? ['-r', 'requirements.txt'] : [],
      key: sha256(req),
    };
  }
  const pyproject = read('pyproject.toml');
  const locked = (source: string, reqs: LockedRequirement[], extraKey: string): PythonDeps => {
    const text = requirementsText(reqs);
    return {
      source,
      mode: 'pip-locked',
      pipArgs: [],
      locked: text,
      count: reqs.length,
      key: sha256(text + extraKey),
    };
  };
  if (pyproject !== null) {
    const uvLock = read('uv.lock');
    if (uvLock !== null) {
      if (uv) return { ...none, source: 'uv.lock', mode: 'uv', key: sha256(`${uvLock}\0${pyproject}`) };
      const deps = pyprojectDependencies(pyproject);
      return locked('uv.lock', uvLockRequirements(uvLock, pyprojectName(pyproject), deps), '');
    }
    for (const lock of LOCK_READERS) {
      const text = read(lock.file);
      if (text !== null) return locked(lock.file, lock.read(text), '');
    }
  }
  const pipfileLock = read('Pipfile.lock');
  if (pipfileLock !== null) return locked('Pipfile.lock', pipfileLockRequirements(pipfileLock), '');
  const pipfile = read('Pipfile');
  if (pipfile !== null) {
    const deps = pipfilePackages(pipfile);
    return { ...none, source: 'Pipfile', mode: 'pip', pipArgs: deps, key: sha256(JSON.stringify(deps)) };
  }
  if (pyproject !== null) {
    const deps = pyprojectDependencies(pyproject);
    return {
      ...none,
      source: 'pyproject.toml',
      mode: 'pip',
      pipArgs: deps,
      key: sha256(JSON.stringify(deps)),
    };
  }
  return null;
}

/** `[project] name` of a pyproject.toml, or null. */
function pyprojectName(text: string): string | null {
  try {
    const name = (parseToml(text) as { project?: { name?: unknown } }).project?.name;
    return typeof name === 'string' ? name : null;
  } catch {
    return null;
  }
}

/** A Pipfile's [packages] as pip requirements (what `pipenv install --skip-lock` would install). */
export function pipfilePackages(text: string): string[] {
  let packages: Record<string, unknown>;
  try {
    packages = ((parseToml(text) as { packages?: Record<string, unknown> }).packages ?? {}) as Record<
      string,
      unknown
    >;
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new BuildError(`Pipfile could not be read as TOML (${why}); fix it and deploy again`);
  }
  return Object.entries(packages).map(([name, v]) => {
    const spec =
      typeof v === 'string'
        ? v
        : typeof (v as { version?: unknown })?.version === 'string'
          ? (v as { version: string }).version
          : '*';
    return spec === '*' ? name : `${name}${spec}`;
  });
}

/** `pip install` of a lockfile's pins: every file hash-checked, nothing resolved beyond the lock. */
export function pipLockedArgv(venvPython: string, requirementsFile: string): string[] {
  return [
    venvPython,
    '-m',
    'pip',
    'install',
    '--no-input',
    '--require-hashes',
    '--no-deps',
    '-r',
    requirementsFile,
  ];
}

/** `uv sync` as Railpack runs it: the lock must match pyproject, no dev groups, the project itself not installed. */
export function uvSyncArgv(uv: string): string[] {
  return [uv, 'sync', '--locked', '--no-dev', '--no-install-project'];
}

async function createVenv(
  ctx: BuildContext,
  python: string,
  dir: string,
  deps: PythonDeps | null,
  env: Record<string, string>,
  uv: string | null,
): Promise<void> {
  ctx.log(`$ ${python} -m venv ${dir}`, 'system');
  // Sandboxed, the venv's directory is made for the build's user and bound in at its real path.
  await fs.promises.mkdir(dir, { recursive: true });
  await giveTree(ctx, dir);
  await run(ctx, [python, '-m', 'venv', '--clear', dir], { env, writable: [dir] });
  // The daemon's pip settings (a mirror, an index) under the service's own variables.
  const pipEnv = {
    ...(await pipSettingsForBuild(ctx)),
    ...env,
    PIP_CACHE_DIR: path.join(ctx.downloadCacheDir, 'pip'),
    PIP_DISABLE_PIP_VERSION_CHECK: '1',
  };
  const venvPython = path.join(dir, 'bin', 'python');
  if (deps?.mode === 'uv' && uv) {
    const argv = uvSyncArgv(uv);
    ctx.log(`installing uv.lock with the host's uv: $ ${argv.slice(1).join(' ')}`, 'system');
    await run(ctx, argv, {
      env: {
        ...pipEnv,
        UV_PROJECT_ENVIRONMENT: dir,
        UV_PYTHON: venvPython,
        UV_PYTHON_DOWNLOADS: 'never',
        UV_CACHE_DIR: path.join(ctx.downloadCacheDir, 'uv'),
      },
      display: 'uv sync --locked',
      writable: [dir],
    });
  } else if (deps?.mode === 'pip-locked') {
    // The pins live beside the venv they built, so the install can be read back later.
    const file = path.join(dir, 'berth-locked-requirements.txt');
    await fs.promises.writeFile(file, deps.locked);
    ctx.log(
      `installing the ${deps.count} packages ${deps.source} pins with pip, hash-checked ($ pip install --require-hashes --no-deps -r ${path.basename(file)})`,
      'system',
    );
    await run(ctx, pipLockedArgv(venvPython, file), {
      env: pipEnv,
      display: `pip install (${deps.source} pins)`,
      writable: [dir],
    });
  } else if (deps && deps.pipArgs.length > 0) {
    const args = ['-m', 'pip', 'install', '--no-input', ...deps.pipArgs];
    ctx.log(`$ pip install ${deps.pipArgs.join(' ')}`, 'system');
    await run(ctx, [venvPython, ...args], {
      env: pipEnv,
      display: `pip install (${deps.source})`,
      writable: [dir],
    });
  } else {
    ctx.log(`no requirements to install${deps ? ` (${deps.source} lists none)` : ''}`, 'system');
  }
}

/**
 * Every python3 / python3.N on PATH, each asked for its version; per name the first that answers counts, so a
 * broken one earlier on PATH (a pyenv shim for a version that is not installed) does not hide a working one.
 */
async function hostPythons(
  ctx: BuildContext,
  pathVar: string,
  env: Record<string, string>,
): Promise<HostPython[]> {
  const candidates: string[] = [];
  for (const dir of pathVar.split(path.delimiter)) {
    let entries: string[] = [];
    try {
      entries = fs.readdirSync(dir);
    } catch {
      continue;
    }
    // python3 first: with no version asked for, the first python3 on PATH is the host's default.
    for (const name of entries.filter((e) => PYTHON_NAME.test(e)).sort((a, b) => a.length - b.length)) {
      const found = which(name, dir);
      if (found) candidates.push(found);
    }
  }
  candidates.sort((a, b) => Number(path.basename(b) === 'python3') - Number(path.basename(a) === 'python3'));
  const out: HostPython[] = [];
  const answered = new Set<string>();
  // A probe's complaints (a pyenv shim for a version that is not installed) are not the app's build output.
  const quiet: BuildContext = { ...ctx, log: () => undefined };
  for (const exe of candidates) {
    if (answered.has(path.basename(exe))) continue;
    try {
      const info = (
        await run(quiet, [exe, '-c', 'import sys; print(sys.version.split()[0]); print(sys.base_prefix)'], {
          env,
          capture: true,
          display: `${exe} --version`,
        })
      ).split('\n');
      const version = info[0]?.trim() ?? '';
      if (/^3\.\d+/.test(version)) {
        answered.add(path.basename(exe));
        out.push({ path: exe, version, basePrefix: info[1]?.trim() ?? '' });
      }
    } catch {
      /* a pyenv shim for a version that is not installed, say: the next of that name may answer */
    }
  }
  return out;
}

const DJANGO_SKIP = new Set(['.git', '.venv', 'venv', 'node_modules', '__pycache__', 'static', 'media']);

/** Django's `WSGI_APPLICATION = "x.wsgi.application"` module ("x.wsgi"), from the settings within two levels. */
export function djangoWsgiModule(appDir: string): string | null {
  const re = /WSGI_APPLICATION\s*=\s*["'](.*)\.application["']/;
  const visit = (rel: string, depth: number): string | null => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(appDir, rel), { withFileTypes: true });
    } catch {
      return null;
    }
    for (const e of entries) {
      if (e.isFile() && e.name.endsWith('.py')) {
        const m = re.exec(readAppText(appDir, path.join(rel, e.name)) ?? '');
        if (m) return m[1];
      }
    }
    if (depth === 0) return null;
    for (const e of entries) {
      if (e.isDirectory() && !DJANGO_SKIP.has(e.name) && !e.name.startsWith('.')) {
        const found = visit(path.join(rel, e.name), depth - 1);
        if (found) return found;
      }
    }
    return null;
  };
  return visit('.', 2);
}

/** True when requirements.txt, pyproject.toml or Pipfile mentions dep (Railpack's test). */
function usesDep(appDir: string, dep: string): boolean {
  return ['requirements.txt', 'pyproject.toml', 'Pipfile'].some((f) =>
    (readAppText(appDir, f) ?? '').toLowerCase().includes(dep),
  );
}

/**
 * The start command Railpack would pick when the app sets none: Django (manage.py, WSGI_APPLICATION) with
 * migrate + gunicorn; FastAPI with uvicorn; Flask with gunicorn; else `python <main file>`.
 */
export function pythonStart(appDir: string, main: string | null, env: Record<string, string>): string | null {
  if (fs.existsSync(path.join(appDir, 'manage.py')) && usesDep(appDir, 'django')) {
    const app = env.RAILPACK_DJANGO_APP_NAME?.trim() || djangoWsgiModule(appDir);
    if (app) return `python manage.py migrate && gunicorn --bind 0.0.0.0:\${PORT:-8000} ${app}:application`;
  }
  if (main) {
    const module = main.replace(/\.py$/, '');
    if ((usesDep(appDir, 'fastapi') || usesDep(appDir, 'python-fasthtml')) && usesDep(appDir, 'uvicorn')) {
      return `uvicorn ${module}:app --host 0.0.0.0 --port \${PORT:-8000}`;
    }
    if (usesDep(appDir, 'flask') && usesDep(appDir, 'gunicorn')) {
      return `gunicorn --bind 0.0.0.0:\${PORT:-8000} ${module}:app`;
    }
    return `python ${main}`;
  }
  return null;
}

export async function buildPython(ctx: BuildContext, det: Detection): Promise<BuildResult> {
  const pathVar = basePath(ctx);
  const hostEnv = commandEnv(ctx, {});
  const request = pythonRequest(ctx.appDir, ctx.userEnv);
  const picked = pickPython(await hostPythons(ctx, pathVar, hostEnv), request);
  if (typeof picked === 'string') throw new BuildError(picked);
  const python = picked.path;
  const version = picked.version;
  ctx.log(
    `Python ${version} (${python})${request ? `, for ${request.shown} from ${request.source}` : ", the host's python3"}`,
    'system',
  );
  const uv = which('uv', pathVar);
  const deps = readDeps(ctx.appDir, uv);
  if (deps?.mode === 'pip-locked' && deps.source === 'uv.lock') {
    ctx.log('uv is not installed on this host: installing uv.lock by its exported pins', 'system');
  } else if (deps?.mode === 'pip-locked') {
    const tool = { 'poetry.lock': 'poetry', 'pdm.lock': 'pdm', 'Pipfile.lock': 'pipenv' }[deps.source] ?? '';
    ctx.log(`${deps.source}: installing its pins with pip instead of ${tool}`, 'system');
  }

  let venv: string;
  let cache: BuildResult['cache'];
  if (!ctx.useCache) {
    ctx.log('NO_CACHE is set: creating the virtualenv inside the app (.venv)', 'system');
    venv = path.join(ctx.appDir, '.venv');
    await createVenv(ctx, python, venv, deps, hostEnv, uv);
    cache = 'none';
  } else {
    const hash = cacheKey({
      provider: 'python',
      version,
      python,
      basePrefix: picked.basePrefix,
      deps: deps ? { source: deps.source, mode: deps.mode, key: deps.key } : null,
      platform: process.platform,
      arch: process.arch,
      ...cacheOwner(ctx),
    });
    const found = findVenv(ctx.cacheDir, hash);
    if (found) {
      ctx.log(`dependency cache hit (${hash.slice(0, 12)}): reusing virtualenv ${found}`, 'system');
      venv = found;
      cache = 'hit';
    } else {
      ctx.log(`dependency cache miss (${hash.slice(0, 12)}): creating a virtualenv`, 'system');
      venv = newVenvDir(ctx.cacheDir, hash);
      await fs.promises.mkdir(path.dirname(venv), { recursive: true });
      try {
        await createVenv(ctx, python, venv, deps, hostEnv, uv);
        // Shared from now on: no longer the build's user's to change.
        if (ctx.sandbox) await sealTree(ctx, venv);
      } catch (err) {
        await fs.promises.rm(venv, { recursive: true, force: true }).catch(() => undefined);
        throw err;
      }
      await publishVenv(ctx, hash, venv);
      cache = 'miss';
    }
  }

  const runtimeEnv: Record<string, string> = {
    VIRTUAL_ENV: venv,
    PATH: `${path.join(venv, 'bin')}${path.delimiter}${pathVar}`,
    PYTHONUNBUFFERED: '1',
  };

  const buildCommand = ctx.config.build.buildCommand?.trim();
  if (buildCommand) {
    ctx.log(`running build command: ${buildCommand}`, 'system');
    const venvOutside = !venv.startsWith(`${ctx.appDir}${path.sep}`);
    await runShell(ctx, buildCommand, commandEnv(ctx, runtimeEnv), { readOnly: venvOutside ? [venv] : [] });
  }

  const startCommand = det.start?.command ?? pythonStart(ctx.appDir, det.pythonMain, ctx.userEnv);
  if (!startCommand) {
    throw new BuildError(
      'Berth found nothing to run in this Python app: add main.py (or app.py, server.py), a Procfile with a web entry, or set deploy.startCommand in railway.toml',
    );
  }
  if (!det.start) ctx.log(`start command: ${startCommand}`, 'system');
  return {
    provider: 'python',
    kind: 'process',
    startCommand,
    staticRoot: null,
    runtimeEnv,
    notes: det.notes,
    cache,
  };
}
