/**
 * Python provider: a virtualenv with the app's requirements, cached by their content and the Python
 * version. Venvs are not relocatable, so the artifact points at the cached venv itself
 * (runtimeEnv VIRTUAL_ENV and PATH) instead of copying it into the app.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BuildError } from '../core/errors.js';
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
import type { BuildResult } from './types.js';

interface PythonDeps {
  /** The file the requirements came from. */
  source: 'requirements.txt' | 'pyproject.toml';
  /** Arguments after `pip install`; empty when there is nothing to install. */
  pipArgs: string[];
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

function readDeps(appDir: string): PythonDeps | null {
  const read = (f: string) => {
    try {
      return fs.readFileSync(path.join(appDir, f), 'utf8');
    } catch {
      return null;
    }
  };
  const req = read('requirements.txt');
  if (req !== null) {
    return {
      source: 'requirements.txt',
      pipArgs: hasRequirements(req) ? ['-r', 'requirements.txt'] : [],
      key: sha256(req),
    };
  }
  const pyproject = read('pyproject.toml');
  if (pyproject !== null) {
    const deps = pyprojectDependencies(pyproject);
    return { source: 'pyproject.toml', pipArgs: deps, key: sha256(JSON.stringify(deps)) };
  }
  return null;
}

async function createVenv(
  ctx: BuildContext,
  python: string,
  dir: string,
  deps: PythonDeps | null,
  env: Record<string, string>,
): Promise<void> {
  ctx.log(`$ ${python} -m venv ${dir}`, 'system');
  // Sandboxed, the venv's directory is made for the build's user and bound in at its real path.
  await fs.promises.mkdir(dir, { recursive: true });
  await giveTree(ctx, dir);
  await run(ctx, [python, '-m', 'venv', '--clear', dir], { env, writable: [dir] });
  if (deps && deps.pipArgs.length > 0) {
    const pipEnv = {
      ...env,
      PIP_CACHE_DIR: path.join(ctx.downloadCacheDir, 'pip'),
      PIP_DISABLE_PIP_VERSION_CHECK: '1',
    };
    const args = ['-m', 'pip', 'install', '--no-input', ...deps.pipArgs];
    ctx.log(`$ pip install ${deps.pipArgs.join(' ')}`, 'system');
    await run(ctx, [path.join(dir, 'bin', 'python'), ...args], {
      env: pipEnv,
      display: `pip install (${deps.source})`,
      writable: [dir],
    });
  } else {
    ctx.log(`no requirements to install${deps ? ` (${deps.source} lists none)` : ''}`, 'system');
  }
}

export async function buildPython(ctx: BuildContext, det: Detection): Promise<BuildResult> {
  const pathVar = basePath(ctx);
  const python = which('python3', pathVar) ? 'python3' : which('python', pathVar) ? 'python' : null;
  if (!python) {
    throw new BuildError(
      'Python 3 ("python3") is not installed on this host; install it to build Python apps',
    );
  }
  const hostEnv = commandEnv(ctx, {});
  const info = (
    await run(ctx, [python, '-c', 'import sys; print(sys.version.split()[0]); print(sys.base_prefix)'], {
      env: hostEnv,
      capture: true,
      display: `${python} --version`,
    })
  ).split('\n');
  const version = info[0]?.trim() ?? '';
  if (!version.startsWith('3.')) {
    throw new BuildError(
      `"${python}" on this host is Python ${version || 'of unknown version'}; Berth needs Python 3`,
    );
  }
  ctx.log(`Python ${version}`, 'system');
  const deps = readDeps(ctx.appDir);

  let venv: string;
  let cache: BuildResult['cache'];
  if (!ctx.useCache) {
    ctx.log('NO_CACHE is set: creating the virtualenv inside the app (.venv)', 'system');
    venv = path.join(ctx.appDir, '.venv');
    await createVenv(ctx, python, venv, deps, hostEnv);
    cache = 'none';
  } else {
    const hash = cacheKey({
      provider: 'python',
      version,
      basePrefix: info[1]?.trim() ?? '',
      deps: deps ? { source: deps.source, key: deps.key } : null,
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
        await createVenv(ctx, python, venv, deps, hostEnv);
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

  const startCommand = det.start?.command ?? (det.pythonMain ? `python ${det.pythonMain}` : null);
  if (!startCommand) {
    throw new BuildError(
      'Berth found nothing to run in this Python app: add main.py (or app.py, server.py), a Procfile with a web entry, or set deploy.startCommand in railway.toml',
    );
  }
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
