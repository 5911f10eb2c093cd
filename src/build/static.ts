/**
 * Static sites: files served by the edge, no process. The root is the Staticfile's `root:`, else the
 * first candidate directory holding an index.html.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BuildError } from '../core/errors.js';
import { type BuildContext, commandEnv, runShell } from './exec.js';
import type { BuildResult } from './types.js';

export interface Staticfile {
  /** The `root:` value as written, or null. */
  root: string | null;
}

/** Parses the app's root Staticfile (`key: value` lines), or null when there is none. */
export function readStaticfile(appDir: string): Staticfile | null {
  let text: string;
  try {
    text = fs.readFileSync(path.join(appDir, 'Staticfile'), 'utf8');
  } catch {
    return null;
  }
  let root: string | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const m = /^\s*root\s*:\s*(.+?)\s*$/.exec(raw);
    if (m) root = m[1].replace(/^["']|["']$/g, '');
  }
  return { root };
}

function hasIndex(appDir: string, rel: string): boolean {
  try {
    return fs.statSync(path.join(appDir, rel, 'index.html')).isFile();
  } catch {
    return false;
  }
}

/** True when the app looks like a static site: a Staticfile, a root index.html, or dist/ or public/ with one. */
export function looksStatic(appDir: string): boolean {
  return (
    fs.existsSync(path.join(appDir, 'Staticfile')) ||
    hasIndex(appDir, '.') ||
    hasIndex(appDir, 'dist') ||
    hasIndex(appDir, 'public')
  );
}

/**
 * The directory (relative to appDir, '.' for the root) to serve. The Staticfile's root wins and must be
 * a directory inside the app; otherwise the first candidate holding an index.html; otherwise fallback.
 */
export function resolveStaticRoot(
  appDir: string,
  candidates: string[],
  fallback: string | null,
): string | null {
  const staticfile = readStaticfile(appDir);
  if (staticfile?.root) {
    const abs = path.resolve(appDir, staticfile.root);
    const rel = path.relative(appDir, abs);
    if (rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
      throw new BuildError(
        `Staticfile root "${staticfile.root}" points outside the app; use a path inside it`,
      );
    }
    let isDir = false;
    try {
      isDir = fs.statSync(abs).isDirectory();
    } catch {
      /* missing */
    }
    if (!isDir) {
      throw new BuildError(`Staticfile root "${staticfile.root}" is not a directory in the built app`);
    }
    return rel === '' ? '.' : rel;
  }
  return candidates.find((c) => hasIndex(appDir, c)) ?? fallback;
}

/**
 * A plain static site: run the buildCommand if one is set, then pick the root. Takes only the detection's
 * notes: detect.ts imports this module (looksStatic), so it must not import detect.ts back.
 */
export async function buildStatic(ctx: BuildContext, det: { notes: string[] }): Promise<BuildResult> {
  const runtimeEnv: Record<string, string> = {};
  const buildCommand = ctx.config.build.buildCommand?.trim();
  if (buildCommand) {
    ctx.log(`running build command: ${buildCommand}`, 'system');
    await runShell(ctx, buildCommand, commandEnv(ctx, runtimeEnv));
  }
  const staticRoot = resolveStaticRoot(ctx.appDir, ['dist', 'public'], '.') ?? '.';
  ctx.log(`serving static files from ${staticRoot === '.' ? 'the app root' : `${staticRoot}/`}`, 'system');
  return {
    provider: 'static',
    kind: 'static',
    startCommand: null,
    staticRoot,
    runtimeEnv,
    notes: det.notes,
    cache: 'none',
  };
}
