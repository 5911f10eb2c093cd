/**
 * Go provider, like Railpack's: `go build -ldflags="-w -s" -o out [<package>]` with the host's go, and `./out` as
 * the start command. The build and module caches live in the build user's download cache.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BuildError } from '../core/errors.js';
import { appDirPath, appFilePath } from './app-files.js';
import type { Detection } from './detect.js';
import { type BuildContext, basePath, commandEnv, run, runShell, which } from './exec.js';
import { LANGUAGES, unbuildableMessage } from './languages.js';
import type { BuildResult } from './types.js';

export const GO_BINARY = 'out';

function hasRootGoFiles(appDir: string): boolean {
  try {
    return fs.readdirSync(appDir).some((f) => f.endsWith('.go') && !f.endsWith('_test.go'));
  } catch {
    return false;
  }
}

/**
 * The first directory under cmd/. cmd/ is listed only when it resolves inside the app: a committed `cmd -> /etc`
 * must not have the daemon list the host's directories (nor build one of them).
 */
function firstCmd(appDir: string): string | null {
  const cmd = appDirPath(appDir, 'cmd');
  if (cmd === null) return null;
  try {
    const dirs = fs
      .readdirSync(cmd, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
    return dirs[0] ?? null;
  } catch {
    return null;
  }
}

/** The package to build, as Railpack picks it: RAILPACK_GO_BIN > root package > cmd/<first> > the module root. */
export function goTarget(appDir: string, env: Record<string, string>): string | null {
  const bin = env.RAILPACK_GO_BIN?.trim();
  if (bin) return `./cmd/${bin}`;
  const module = appFilePath(appDir, 'go.mod') !== null;
  if (module && hasRootGoFiles(appDir)) return null;
  const cmd = firstCmd(appDir);
  if (cmd) return `./cmd/${cmd}`;
  if (!module && appFilePath(appDir, 'main.go') !== null) return 'main.go';
  return null;
}

export function goBuildArgv(go: string, target: string | null): string[] {
  return [go, 'build', '-ldflags=-w -s', '-o', GO_BINARY, ...(target ? [target] : [])];
}

export async function buildGo(ctx: BuildContext, det: Detection): Promise<BuildResult> {
  const go = which('go', basePath(ctx));
  if (!go) {
    const language = det.language ?? { language: LANGUAGES[1], file: 'go.mod' };
    throw new BuildError(unbuildableMessage(language, false, false));
  }
  const env = commandEnv(
    ctx,
    {},
    {
      GOCACHE: path.join(ctx.downloadCacheDir, 'go-build'),
      GOPATH: path.join(ctx.downloadCacheDir, 'go'),
      // Never fetch another Go toolchain: the host's go builds, or the build says why not.
      GOTOOLCHAIN: 'local',
      ...(ctx.userEnv.CGO_ENABLED === undefined ? { CGO_ENABLED: '0' } : {}),
    },
  );
  const version = (await run(ctx, [go, 'version'], { env, capture: true })).trim();
  ctx.log(version, 'system');
  const buildCommand = ctx.config.build.buildCommand?.trim();
  if (buildCommand) {
    ctx.log(`running build command: ${buildCommand}`, 'system');
    await runShell(ctx, buildCommand, env);
  } else {
    const argv = goBuildArgv(go, goTarget(ctx.appDir, ctx.userEnv));
    ctx.log(`$ ${['go', ...argv.slice(1)].join(' ')}`, 'system');
    await run(ctx, argv, { env, display: 'go build' });
  }
  return {
    provider: 'go',
    kind: 'process',
    startCommand: det.start?.command ?? `./${GO_BINARY}`,
    staticRoot: null,
    runtimeEnv: {},
    notes: det.notes,
    cache: 'none',
  };
}
