/**
 * Node provider: pick the package manager, install dependencies (through the node_modules cache),
 * run the build, decide the start command. A package.json with a build script and nothing to start is
 * a single-page app: its build output is served statically.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BuildError } from '../core/errors.js';
import {
  cacheKey,
  cacheOwner,
  findNodeModules,
  restoreNodeModules,
  sha256,
  storeNodeModules,
} from './cache.js';
import type { Detection, PackageJson } from './detect.js';
import { type BuildContext, basePath, commandEnv, run, runShell, shellQuote, which } from './exec.js';
import { resolveStaticRoot } from './static.js';
import type { BuildResult } from './types.js';

type PmName = 'npm' | 'pnpm' | 'yarn';

interface PackageManager {
  name: PmName;
  /** What decided it, for the log. */
  source: string;
  /** Major version from the packageManager field, when given. */
  major: number | null;
  /** The lockfile this package manager reads, when the app has it. */
  lockfile: string | null;
}

const LOCKFILES: Record<PmName, string[]> = {
  npm: ['package-lock.json', 'npm-shrinkwrap.json'],
  pnpm: ['pnpm-lock.yaml'],
  yarn: ['yarn.lock'],
};

/** Files besides the lockfile that change what an install produces. */
const INSTALL_INPUTS = ['.npmrc', '.yarnrc', '.yarnrc.yml', 'pnpm-workspace.yaml'];

function exists(appDir: string, rel: string): boolean {
  try {
    return fs.statSync(path.join(appDir, rel)).isFile();
  } catch {
    return false;
  }
}

export function pickPackageManager(appDir: string, pkg: PackageJson): PackageManager {
  const lockfileOf = (name: PmName) => LOCKFILES[name].find((f) => exists(appDir, f)) ?? null;
  if (pkg.packageManager) {
    const m = /^([a-z]+)@(\d+)?/.exec(pkg.packageManager.trim());
    const name = m?.[1];
    if (name !== 'npm' && name !== 'pnpm' && name !== 'yarn') {
      throw new BuildError(
        `package.json's packageManager "${pkg.packageManager}" is not supported; Berth builds Node apps with npm, pnpm or yarn`,
      );
    }
    return {
      name,
      source: `packageManager "${pkg.packageManager}"`,
      major: m?.[2] ? Number(m[2]) : null,
      lockfile: lockfileOf(name),
    };
  }
  for (const name of ['pnpm', 'yarn', 'npm'] as const) {
    const lockfile = lockfileOf(name);
    if (lockfile) return { name, source: lockfile, major: null, lockfile };
  }
  return { name: 'npm', source: 'no lockfile, default', major: null, lockfile: null };
}

/** The argv prefix that runs the package manager: itself, or through corepack. */
function resolvePackageManager(ctx: BuildContext, pm: PackageManager): string[] {
  const pathVar = basePath(ctx);
  if (which(pm.name, pathVar)) return [pm.name];
  if (pm.name !== 'npm' && which('corepack', pathVar)) {
    ctx.log(`${pm.name} is not on PATH; running it through corepack`, 'system');
    return ['corepack', pm.name];
  }
  const fix =
    pm.name === 'npm'
      ? 'install Node.js with npm on this host'
      : `install ${pm.name} (or corepack) on this host, or remove ${pm.lockfile ?? 'the packageManager field'} to build with npm`;
  throw new BuildError(
    `This app uses ${pm.name} (from ${pm.source}), but ${pm.name} is not installed on this host; ${fix}`,
  );
}

function installArgs(appDir: string, pm: PackageManager): string[] {
  switch (pm.name) {
    case 'npm':
      return pm.lockfile ? ['ci'] : ['install'];
    case 'pnpm':
      return pm.lockfile ? ['install', '--frozen-lockfile'] : ['install'];
    case 'yarn': {
      const berry = (pm.major !== null && pm.major >= 2) || exists(appDir, '.yarnrc.yml');
      if (berry) return pm.lockfile ? ['install', '--immutable'] : ['install'];
      return pm.lockfile
        ? ['install', '--frozen-lockfile', '--production=false']
        : ['install', '--production=false'];
    }
  }
}

function corepackHome(ctx: BuildContext): string {
  return path.join(ctx.downloadCacheDir, 'corepack');
}

/** Variables for install and build: caches under cacheDir, quiet npm, dev dependencies included. */
function buildTimeEnv(ctx: BuildContext, pm: PackageManager): Record<string, string> {
  const env: Record<string, string> = {
    CI: 'true',
    npm_config_cache: path.join(ctx.downloadCacheDir, 'npm'),
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    COREPACK_ENABLE_DOWNLOAD_PROMPT: '0',
  };
  // NODE_ENV=production would make installs skip devDependencies, which builds usually need.
  if (pm.name === 'npm') env.npm_config_include = 'dev';
  if (pm.name === 'pnpm') {
    env.npm_config_production = 'false';
    env.npm_config_store_dir = path.join(ctx.downloadCacheDir, 'pnpm-store');
    // Hardlinks into the user's store would be sealed along with node_modules when it is cached.
    if (ctx.sandbox) env.npm_config_package_import_method = 'copy';
  }
  if (pm.name === 'yarn') env.YARN_CACHE_FOLDER = path.join(ctx.downloadCacheDir, 'yarn');
  // Sandboxed, the daemon's corepack cache is out of reach: corepack keeps the package managers it fetches here.
  if (ctx.sandbox) env.COREPACK_HOME = corepackHome(ctx);
  return env;
}

async function nodeMajor(ctx: BuildContext, env: Record<string, string>): Promise<number> {
  const out = await run(ctx, ['node', '--version'], { env, capture: true, display: 'node --version' });
  const m = /v?(\d+)\./.exec(out.trim());
  if (!m) throw new BuildError(`could not tell the Node.js version from "node --version" (${out.trim()})`);
  return Number(m[1]);
}

function installKey(ctx: BuildContext, pm: PackageManager, pkg: PackageJson, args: string[], major: number) {
  const inputs: Record<string, string> = {};
  for (const f of INSTALL_INPUTS) {
    if (exists(ctx.appDir, f)) inputs[f] = sha256(fs.readFileSync(path.join(ctx.appDir, f)));
  }
  return cacheKey({
    provider: 'node',
    packageManager: pm.name,
    packageManagerField: pkg.packageManager,
    install: args,
    lockfile: pm.lockfile,
    // The lockfile pins everything; without one, the declared ranges are the best key there is.
    contents: pm.lockfile
      ? sha256(fs.readFileSync(path.join(ctx.appDir, pm.lockfile)))
      : sha256(JSON.stringify(pkg.deps)),
    inputs,
    nodeMajor: major,
    platform: process.platform,
    arch: process.arch,
    ...cacheOwner(ctx),
  });
}

export async function buildNode(ctx: BuildContext, det: Detection): Promise<BuildResult> {
  const pkg = det.pkg;
  if (!pkg) throw new BuildError('package.json is missing');
  const pm = pickPackageManager(ctx.appDir, pkg);
  ctx.log(`package manager: ${pm.name} (${pm.source})`, 'system');
  const bin = resolvePackageManager(ctx, pm);
  const binShown = bin.join(' ');

  const runtimeEnv: Record<string, string> = {
    PATH: `${path.join(ctx.appDir, 'node_modules', '.bin')}${path.delimiter}${basePath(ctx)}`,
  };
  // A NODE_ENV among the service's variables stands; otherwise production, as on Railway.
  if (ctx.userEnv.NODE_ENV === undefined) runtimeEnv.NODE_ENV = 'production';
  if (bin[0] === 'corepack') runtimeEnv.COREPACK_ENABLE_DOWNLOAD_PROMPT = '0';
  // Sandboxed, the start command (`corepack pnpm run start`) must find what the install fetched.
  if (bin[0] === 'corepack' && ctx.sandbox) runtimeEnv.COREPACK_HOME = corepackHome(ctx);
  const env = commandEnv(ctx, runtimeEnv, buildTimeEnv(ctx, pm));

  const major = await nodeMajor(ctx, env);
  const args = installArgs(ctx.appDir, pm);
  const install = async () => {
    ctx.log(`$ ${binShown} ${args.join(' ')}`, 'system');
    try {
      await run(ctx, [...bin, ...args], { env });
    } catch (err) {
      if (bin[0] === 'corepack' && err instanceof BuildError && /signature|keyid/i.test(err.message)) {
        throw new BuildError(
          `${err.message}\n(corepack could not verify the ${pm.name} download's signature; a registry proxy that strips signatures or an old corepack causes this. Install ${pm.name} on the host, or set COREPACK_INTEGRITY_KEYS=0 in the service's variables to skip that check)`,
        );
      }
      throw err;
    }
  };

  let cache: BuildResult['cache'] = 'none';
  if (!ctx.useCache) {
    ctx.log('NO_CACHE is set: installing dependencies without the cache', 'system');
    await install();
  } else {
    const hash = installKey(ctx, pm, pkg, args, major);
    const cached = findNodeModules(ctx.cacheDir, hash);
    if (cached) {
      ctx.log(
        `dependency cache hit (${hash.slice(0, 12)}): linking node_modules, nothing to install`,
        'system',
      );
      await restoreNodeModules(ctx, cached);
      cache = 'hit';
    } else {
      ctx.log(`dependency cache miss (${hash.slice(0, 12)}): installing`, 'system');
      await install();
      // Saved before the build step, so build outputs (node_modules/.cache, ...) stay out of the cache.
      await storeNodeModules(ctx, hash);
      cache = 'miss';
    }
  }

  const buildCommand = ctx.config.build.buildCommand?.trim();
  if (buildCommand) {
    ctx.log(`running build command: ${buildCommand}`, 'system');
    await runShell(ctx, buildCommand, env);
  } else if (pkg.scripts.build) {
    ctx.log(`$ ${binShown} run build`, 'system');
    await run(ctx, [...bin, 'run', 'build'], { env });
  }

  let startCommand: string | null = det.start?.command ?? null;
  if (!startCommand) {
    if (pkg.scripts.start) startCommand = `${binShown} run start`;
    else if (pkg.main) startCommand = `node ${shellQuote(pkg.main)}`;
    else if (exists(ctx.appDir, 'index.js')) startCommand = 'node index.js';
  }
  if (startCommand) {
    return {
      provider: 'node',
      kind: 'process',
      startCommand,
      staticRoot: null,
      runtimeEnv,
      notes: det.notes,
      cache,
    };
  }

  const staticRoot = resolveStaticRoot(ctx.appDir, ['dist', 'build', 'out', 'public'], null);
  if (!staticRoot) {
    throw new BuildError(
      'The build finished but there is nothing to run: package.json has no "start" script, "main" or index.js, and no dist/index.html was produced; add a start script, a Staticfile with root:, or set deploy.startCommand in railway.toml',
    );
  }
  ctx.log(`no start command: serving the build output ${staticRoot}/ as a static site`, 'system');
  return {
    provider: 'node',
    kind: 'static',
    startCommand: null,
    staticRoot,
    runtimeEnv,
    notes: [...det.notes, `No start command; the build output (${staticRoot}/) is served as a static site`],
    cache,
  };
}
