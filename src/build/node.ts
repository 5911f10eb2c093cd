/**
 * Node provider: pick the package manager, install dependencies (through the node_modules cache),
 * run the build, decide the start command. A single-page app (spa.ts), or a package.json with a build script
 * and nothing to start, has its build output served statically.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BuildError } from '../core/errors.js';
import { appFilePath } from './app-files.js';
import {
  cacheKey,
  cacheOwner,
  findNodeModules,
  restoreNodeModules,
  sha256,
  storeNodeModules,
} from './cache.js';
import type { Detection, PackageJson } from './detect.js';
import { type BuildContext, basePath, commandEnv, run, runShell, shellQuote } from './exec.js';
import { type NodeRuntime, nodeVersionRequest, provideNode } from './node-runtime.js';
import { npmSettingsForBuild } from './npm-config.js';
import { type PackageManager, pickPackageManager, providePackageManager } from './package-manager.js';
import { detectSpa, type Spa } from './spa.js';
import { fallbackText, resolveStaticSite, type StaticSite } from './static.js';
import type { BuildResult } from './types.js';
import { yarnSettingsForBuild } from './yarn-config.js';

/** Files besides the lockfile that change what an install produces. */
const INSTALL_INPUTS = ['.npmrc', '.yarnrc', '.yarnrc.yml', 'pnpm-workspace.yaml', 'bunfig.toml'];

const exists = (appDir: string, rel: string) => appFilePath(appDir, rel) !== null;

/** sha256 of a file of the app, or null when it is missing or resolves outside the app (app-files.ts). */
function appFileHash(appDir: string, rel: string): string | null {
  const file = appFilePath(appDir, rel);
  return file === null ? null : sha256(fs.readFileSync(file));
}

/** The install command's arguments: frozen/immutable against the lockfile, so a stale one fails the build. */
export function installArgs(pm: Pick<PackageManager, 'name' | 'lockfile' | 'berry'>): string[] {
  switch (pm.name) {
    case 'npm':
      return pm.lockfile ? ['ci'] : ['install'];
    case 'pnpm':
      return pm.lockfile ? ['install', '--frozen-lockfile'] : ['install'];
    case 'bun':
      return pm.lockfile ? ['install', '--frozen-lockfile'] : ['install'];
    case 'yarn':
      if (pm.berry) return pm.lockfile ? ['install', '--immutable'] : ['install'];
      return pm.lockfile
        ? ['install', '--frozen-lockfile', '--production=false']
        : ['install', '--production=false'];
  }
}

/** Variables for install and build: caches under cacheDir, quiet npm, dev dependencies included. */
function buildTimeEnv(ctx: BuildContext, pm: PackageManager, node: NodeRuntime): Record<string, string> {
  const env: Record<string, string> = {
    CI: 'true',
    npm_config_cache: path.join(ctx.downloadCacheDir, 'npm'),
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  };
  // Native addons compile against the headers of the node they will run on, not the host's.
  if (node.home) env.npm_config_nodedir = node.home;
  // NODE_ENV=production would make installs skip devDependencies, which builds usually need.
  if (pm.name === 'npm') env.npm_config_include = 'dev';
  if (pm.name === 'pnpm') {
    env.npm_config_production = 'false';
    env.npm_config_store_dir = path.join(ctx.downloadCacheDir, 'pnpm-store');
    // Hardlinks into the user's store would be sealed along with node_modules when it is cached.
    if (ctx.sandbox) env.npm_config_package_import_method = 'copy';
  }
  if (pm.name === 'yarn' && !pm.berry) env.YARN_CACHE_FOLDER = path.join(ctx.downloadCacheDir, 'yarn');
  if (pm.name === 'yarn' && pm.berry) {
    env.YARN_GLOBAL_FOLDER = path.join(ctx.downloadCacheDir, 'yarn-berry');
    env.YARN_ENABLE_TELEMETRY = '0';
  }
  if (pm.name === 'bun') env.BUN_INSTALL_CACHE_DIR = path.join(ctx.downloadCacheDir, 'bun');
  return env;
}

/**
 * The install's cache key. It covers the manifest's install fields as well as the lockfile: a package.json
 * changed under an unchanged lockfile is a miss, and the frozen install then fails with the package
 * manager's own "lockfile out of date" error instead of deploying the old dependencies.
 */
export function installKey(
  appDir: string,
  pm: PackageManager,
  pmVersion: string | null,
  pkg: PackageJson,
  args: string[],
  nodeVersion: string,
  owner: { owner?: number },
) {
  const inputs: Record<string, string> = {};
  for (const f of INSTALL_INPUTS) {
    const hash = appFileHash(appDir, f);
    if (hash !== null) inputs[f] = hash;
  }
  return cacheKey({
    provider: 'node',
    packageManager: pm.name,
    packageManagerVersion: pmVersion,
    install: args,
    lockfile: pm.lockfile,
    lockfileContents: pm.lockfile ? appFileHash(appDir, pm.lockfile) : null,
    manifest: sha256(JSON.stringify(pkg.deps)),
    inputs,
    nodeMajor: Number(nodeVersion.split('.')[0]),
    platform: process.platform,
    arch: process.arch,
    ...owner,
  });
}

export async function buildNode(ctx: BuildContext, det: Detection): Promise<BuildResult> {
  const pkg = det.pkg;
  if (!pkg) throw new BuildError('package.json is missing');
  const pm = pickPackageManager(ctx.appDir, pkg);
  ctx.log(`package manager: ${pm.name} (${pm.source})`, 'system');
  const node = await provideNode(ctx, nodeVersionRequest(ctx.appDir, pkg, ctx.userEnv));
  // The package manager's own scripts run on the chosen node.
  const toolsPath = [node.binDir, basePath(ctx)].filter((d): d is string => d !== null).join(path.delimiter);
  const provided = await providePackageManager({ ...ctx, userEnv: { ...ctx.userEnv, PATH: toolsPath } }, pm);
  const bin = [provided.command];
  const binShown = provided.command;

  const runtimeEnv: Record<string, string> = {
    PATH: [path.join(ctx.appDir, 'node_modules', '.bin'), provided.binDir, node.binDir, basePath(ctx)]
      .filter((d): d is string => d !== null)
      .join(path.delimiter),
  };
  // A NODE_ENV among the service's variables stands; otherwise production, as on Railway.
  if (ctx.userEnv.NODE_ENV === undefined) runtimeEnv.NODE_ENV = 'production';
  const env = commandEnv(ctx, runtimeEnv, {
    ...(await npmSettingsForBuild(ctx)),
    ...(pm.name === 'yarn' && pm.berry ? await yarnSettingsForBuild(ctx) : {}),
    ...buildTimeEnv(ctx, pm, node),
  });

  const args = installArgs(pm);
  const custom = ctx.installCommand;
  const install = async () => {
    if (custom) {
      ctx.log(`install command from ${custom.from}: ${custom.command}`, 'system');
      await runShell(ctx, custom.command, env);
      return;
    }
    ctx.log(`$ ${binShown} ${args.join(' ')}`, 'system');
    await run(ctx, [...bin, ...args], { env });
  };

  let cache: BuildResult['cache'] = 'none';
  if (custom) {
    // The cache key describes Berth's own install; a command of the app's choosing installs afresh.
    await install();
  } else if (!ctx.useCache) {
    ctx.log('NO_CACHE is set: installing dependencies without the cache', 'system');
    await install();
  } else if (pm.pnp) {
    // Plug'n'Play keeps the install in .pnp.cjs and .yarn/, which the node_modules cache does not hold.
    ctx.log(
      "Yarn Plug'n'Play: installing without the node_modules cache (Yarn's own cache is kept)",
      'system',
    );
    await install();
  } else {
    const hash = installKey(ctx.appDir, pm, provided.version, pkg, args, node.version, cacheOwner(ctx));
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

  const spa = detectSpa(ctx.appDir, pkg, ctx.userEnv, det.start !== null);
  if (spa) {
    ctx.log(
      `single-page app (${spa.framework ?? 'RAILPACK_SPA_OUTPUT_DIR set'}): its build output ${spa.outputDir}/ (${spa.outputFrom}) will be served as a static site`,
      'system',
    );
  }

  const buildCommand = ctx.config.build.buildCommand?.trim();
  if (buildCommand) {
    ctx.log(`running build command: ${buildCommand}`, 'system');
    await runShell(ctx, buildCommand, env);
  } else if (pkg.scripts.build) {
    ctx.log(`$ ${binShown} run build`, 'system');
    await run(ctx, [...bin, 'run', 'build'], { env });
  }

  if (spa) return spaResult(ctx, det, spa, runtimeEnv, cache);

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

  const site = resolveStaticSite(ctx.appDir, ctx.userEnv, {
    spaRoot: null,
    candidates: ['dist', 'build', 'out', 'public'],
    fallbackRoot: null,
  });
  if (!site) {
    throw new BuildError(
      'The build finished but there is nothing to run: package.json has no "start" script, "main" or index.js, and no dist/index.html was produced; add a start script, a Staticfile with root:, or set deploy.startCommand in railway.toml',
    );
  }
  for (const note of site.notes) ctx.log(note, 'system');
  ctx.log(
    `no start command: serving the build output ${site.root}/ as a static site${fallbackText(site)}`,
    'system',
  );
  return staticResult(site, runtimeEnv, cache, [
    ...det.notes,
    ...site.notes,
    `No start command; the build output (${site.root}/) is served as a static site`,
  ]);
}

function staticResult(
  site: StaticSite,
  runtimeEnv: Record<string, string>,
  cache: BuildResult['cache'],
  notes: string[],
): BuildResult {
  return {
    provider: 'node',
    kind: 'static',
    startCommand: null,
    staticRoot: site.root,
    staticFallback: site.fallback,
    runtimeEnv,
    notes,
    cache,
  };
}

/** The SPA's output directory, served with the index.html fallback unless the Staticfile/Caddyfile says otherwise. */
function spaResult(
  ctx: BuildContext,
  det: Detection,
  spa: Spa,
  runtimeEnv: Record<string, string>,
  cache: BuildResult['cache'],
): BuildResult {
  let site: StaticSite | null;
  try {
    site = resolveStaticSite(ctx.appDir, ctx.userEnv, {
      spaRoot: { dir: spa.outputDir, from: spa.outputFrom },
      candidates: [],
      fallbackRoot: null,
    });
  } catch (err) {
    if (err instanceof BuildError && /is not a directory/.test(err.message)) {
      throw new BuildError(
        `The build finished but produced no ${spa.outputDir}/ directory to serve (${spa.outputFrom}); make the build write there, or set RAILPACK_SPA_OUTPUT_DIR to where it writes`,
      );
    }
    throw err;
  }
  if (!site) throw new BuildError(`No output directory for the single-page app`);
  for (const note of site.notes) ctx.log(note, 'system');
  ctx.log(`serving ${site.root}/ as a static site${fallbackText(site)}`, 'system');
  const what = spa.framework ? `${spa.framework} single-page app` : 'single-page app';
  return staticResult(site, runtimeEnv, cache, [
    ...det.notes,
    ...site.notes,
    `Served as a ${what} from ${site.root}/${site.fallback ? `, unknown paths get ${site.fallback}` : ''}`,
  ]);
}
