/**
 * Berth's native builder: turns an extracted source snapshot into a runnable artifact in place.
 * See README.md in this folder for the job and the interface.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BuildError, errorMessage } from '../core/errors.js';
import { writeFileAtomic } from '../lib/atomic-write.js';
import { userCache, visiblePath } from '../runtime/sandbox.js';
import { berthProvider, effectiveBuildCommand, readBuildOverrides } from './build-overrides.js';
import { giveTree } from './cache.js';
import { type DetectHints, type Detection, detect } from './detect.js';
import { type BuildContext, basePath, commandEnv, hostEnvFrom, runShell } from './exec.js';
import { buildGo } from './golang.js';
import { buildNode } from './node.js';
import { buildPython } from './python.js';
import { buildStatic } from './static.js';
import type { BuildRequest, BuildResult } from './types.js';

export type { BuildRequest, BuildResult } from './types.js';

const ARTIFACT_FILE = 'artifact.json';

const PROVIDERS = new Set(['node', 'python', 'go', 'static', 'procfile', 'shell']);
const CACHE_STATES = new Set(['hit', 'miss', 'none']);
const isStringOrNull = (v: unknown) => v === null || typeof v === 'string';
const isStringRecord = (v: unknown) =>
  typeof v === 'object' && v !== null && Object.values(v).every((x) => typeof x === 'string');

/**
 * artifact.json is Berth's own file, so a shape check is enough to catch a damaged one. Hand-written
 * because loading a schema library costs the long-running daemon ~12 MB of resident memory.
 */
function isBuildResult(v: unknown): v is BuildResult {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    PROVIDERS.has(r.provider as string) &&
    (r.kind === 'process' || r.kind === 'static') &&
    isStringOrNull(r.startCommand) &&
    isStringOrNull(r.staticRoot) &&
    (r.staticFallback === undefined || isStringOrNull(r.staticFallback)) &&
    isStringRecord(r.runtimeEnv) &&
    Array.isArray(r.notes) &&
    r.notes.every((n) => typeof n === 'string') &&
    CACHE_STATES.has(r.cache as string)
  );
}

function secondsText(ms: number): string {
  return String(Number((ms / 1000).toFixed(3)));
}

function isNoCache(env: Record<string, string>): boolean {
  const v = env.NO_CACHE?.trim().toLowerCase();
  return v === '1' || v === 'true' || v === 'yes';
}

/** Apps with only a start command (deploy.startCommand or a Procfile): run the buildCommand, if any. */
async function buildCommandOnly(ctx: BuildContext, det: Detection): Promise<BuildResult> {
  if (ctx.installCommand) {
    ctx.log(`install command from ${ctx.installCommand.from}: ${ctx.installCommand.command}`, 'system');
    await runShell(ctx, ctx.installCommand.command, commandEnv(ctx, {}));
  }
  const buildCommand = ctx.config.build.buildCommand?.trim();
  if (buildCommand) {
    ctx.log(`running build command: ${buildCommand}`, 'system');
    await runShell(ctx, buildCommand, commandEnv(ctx, {}));
  }
  if (!det.start) throw new BuildError('no start command');
  return {
    provider: det.provider,
    kind: 'process',
    startCommand: det.start.command,
    staticRoot: null,
    runtimeEnv: {},
    notes: det.notes,
    cache: 'none',
  };
}

/**
 * Applies railpack.json / nixpacks.toml / RAILPACK_* / NIXPACKS_* (build-overrides.ts) to the context:
 * the build command into the config (below railway.toml's), the install command for the providers that
 * run one, tool versions as their variables; returns the start command and provider for detection.
 */
function applyOverrides(ctx: BuildContext): { ctx: BuildContext; hints: DetectHints } {
  const o = readBuildOverrides(ctx.appDir, ctx.userEnv);
  for (const n of o.notes) ctx.log(n, 'system');
  for (const w of o.warnings) ctx.log(`warning: ${w}`, 'system');
  const build = effectiveBuildCommand(ctx.config, o);
  if (build && build.from !== 'build.buildCommand') {
    ctx.log(`build command from ${build.from}: ${build.command}`, 'system');
  }
  const hints: DetectHints = {};
  if (o.start) hints.start = { command: o.start.command, source: o.start.from };
  if (o.provider) {
    const name = berthProvider(o.provider.name);
    if (PROVIDERS.has(name))
      hints.provider = { name: name as BuildResult['provider'], from: o.provider.from };
    else {
      ctx.log(
        `warning: ${o.provider.from} "${o.provider.name}" is not a provider Berth has; detecting the provider instead`,
        'system',
      );
    }
  }
  return {
    ctx: {
      ...ctx,
      config: { ...ctx.config, build: { ...ctx.config.build, buildCommand: build?.command ?? null } },
      userEnv: { ...o.env, ...ctx.userEnv },
      installCommand: o.install,
    },
    hints,
  };
}

/** Providers that run a custom install command; the others install their own way and say so. */
const RUNS_INSTALL_COMMAND = new Set(['node', 'procfile', 'shell']);

async function buildWith(original: BuildContext): Promise<BuildResult> {
  const { ctx, hints } = applyOverrides(original);
  const det = detect(ctx.appDir, ctx.config, hints, ctx.userEnv, basePath(ctx));
  if (ctx.installCommand && !RUNS_INSTALL_COMMAND.has(det.provider)) {
    ctx.log(
      `warning: ${ctx.installCommand.from} is not honoured for ${det.provider} apps: Berth installs their dependencies itself`,
      'system',
    );
  }
  ctx.log(`detected provider: ${det.provider} (${det.reason})`, 'system');
  for (const note of det.notes) ctx.log(note, 'system');
  if (det.start) ctx.log(`start command from ${det.start.source}: ${det.start.command}`, 'system');
  switch (det.provider) {
    case 'node':
      return buildNode(ctx, det);
    case 'python':
      return buildPython(ctx, det);
    case 'go':
      return buildGo(ctx, det);
    case 'static':
      return buildStatic(ctx, det);
    case 'procfile':
    case 'shell':
      return buildCommandOnly(ctx, det);
  }
}

function writeArtifact(artifactRoot: string, result: BuildResult): void {
  writeFileAtomic(path.join(artifactRoot, ARTIFACT_FILE), `${JSON.stringify(result, null, 2)}\n`, {
    mode: 0o644,
  });
}

/**
 * Builds req.appDir in place and returns how to run it; also writes the result to
 * `<appDir>/../artifact.json` (see readArtifact). Every failure is a BuildError whose message is
 * meant for the user: what went wrong and, where possible, what to change.
 */
export async function buildApp(req: BuildRequest): Promise<BuildResult> {
  const started = Date.now();
  const appDir = path.resolve(req.appDir);
  if (req.signal.aborted) throw new BuildError('The build was cancelled before it started');

  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error('build time limit'));
  }, req.timeoutMs);
  const onAbort = () => controller.abort(req.signal.reason);
  req.signal.addEventListener('abort', onAbort, { once: true });

  const sandbox = req.sandbox ?? null;
  const hostEnv = hostEnvFrom(process.env);
  // Sandboxed, programs in hidden directories (a pyenv in the daemon's HOME) do not exist: never pick them.
  if (sandbox) hostEnv.PATH = visiblePath(hostEnv.PATH, sandbox.host);
  const ctx: BuildContext = {
    appDir,
    cacheDir: path.resolve(req.cacheDir),
    downloadCacheDir: sandbox ? userCache(sandbox.user) : path.resolve(req.cacheDir),
    sandbox,
    config: req.config,
    userEnv: req.env,
    hostEnv,
    log: req.log,
    signal: controller.signal,
    useCache: !isNoCache(req.env),
    jobs: req.jobs,
    hostFiles: [],
  };

  try {
    if (!fs.statSync(appDir, { throwIfNoEntry: false })?.isDirectory()) {
      throw new BuildError(`The app directory ${appDir} does not exist`);
    }
    await fs.promises.mkdir(ctx.cacheDir, { recursive: true });
    // The source snapshot becomes the build user's: the build writes its outputs (and installs) into it.
    await giveTree(ctx, appDir);
    const result = await buildWith(ctx);
    // A stop that raced with the last step still fails the build.
    if (controller.signal.aborted) throw new BuildError('stopped');
    writeArtifact(path.dirname(appDir), result);
    const what = result.kind === 'static' ? `static files in ${result.staticRoot}` : result.startCommand;
    req.log(
      `build finished in ${secondsText(Date.now() - started)} s: ${result.provider}, ${what}`,
      'system',
    );
    return result;
  } catch (err) {
    if (timedOut) {
      const msg = `build exceeded its time limit of ${secondsText(req.timeoutMs)} s`;
      req.log(msg, 'system');
      throw new BuildError(msg);
    }
    if (req.signal.aborted) {
      req.log('build cancelled', 'system');
      throw new BuildError('The build was cancelled');
    }
    if (err instanceof BuildError) {
      req.log(`build failed: ${err.message}`, 'system');
      throw err;
    }
    const msg = `The build failed unexpectedly: ${errorMessage(err)}`;
    req.log(msg, 'system');
    throw new BuildError(msg);
  } finally {
    clearTimeout(timer);
    req.signal.removeEventListener('abort', onAbort);
  }
}

/**
 * The BuildResult written by buildApp for the artifact under artifactRoot (the parent of appDir),
 * so a rollback can run it again without rebuilding. Throws a BuildError when it is missing or damaged.
 */
export function readArtifact(artifactRoot: string): BuildResult {
  const file = path.join(artifactRoot, ARTIFACT_FILE);
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch {
    throw new BuildError(`No build artifact at ${file}; deploy again to rebuild it`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new BuildError(`The build artifact ${file} is not valid JSON; deploy again to rebuild it`);
  }
  if (!isBuildResult(parsed)) {
    throw new BuildError(`The build artifact ${file} is damaged; deploy again to rebuild it`);
  }
  return parsed;
}
