/**
 * Static sites: files served by the edge, no process. Decides the served root and the fallback for unknown
 * paths from the service's variables, the Staticfile and a root Caddyfile, as Railpack's Caddy setup would.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BuildError } from '../core/errors.js';
import { readAppText } from './app-files.js';
import { readCaddyfile } from './caddyfile.js';
import { type BuildContext, commandEnv, runShell } from './exec.js';
import type { BuildResult } from './types.js';

export interface Staticfile {
  /** The `root:` value as written, or null. */
  root: string | null;
  /** `index_fallback:` (true/false), or null when not set. */
  indexFallback: boolean | null;
}

/** Parses Staticfile text (`key: value` lines, YAML's simple form). */
export function parseStaticfile(text: string): Staticfile {
  let root: string | null = null;
  let indexFallback: boolean | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const m = /^\s*([A-Za-z_]+)\s*:\s*(.+?)\s*$/.exec(raw);
    if (!m) continue;
    const value = m[2].replace(/\s+#.*$/, '').replace(/^["']|["']$/g, '');
    if (m[1] === 'root') root = value;
    else if (m[1] === 'index_fallback') {
      const v = value.toLowerCase();
      if (v === 'true' || v === 'yes' || v === 'on') indexFallback = true;
      else if (v === 'false' || v === 'no' || v === 'off') indexFallback = false;
    }
  }
  return { root, indexFallback };
}

/** The app's root Staticfile, or null when there is none. */
export function readStaticfile(appDir: string): Staticfile | null {
  const text = readAppText(appDir, 'Staticfile');
  return text === null ? null : parseStaticfile(text);
}

function hasIndex(appDir: string, rel: string): boolean {
  try {
    return fs.statSync(path.join(appDir, rel, 'index.html')).isFile();
  } catch {
    return false;
  }
}

/**
 * True when the app looks like a static site: RAILPACK_STATIC_FILE_ROOT, a Staticfile, a root index.html, or
 * dist/ or public/ with one.
 */
export function looksStatic(appDir: string, env: Record<string, string> = {}): boolean {
  return (
    !!env.RAILPACK_STATIC_FILE_ROOT?.trim() ||
    fs.existsSync(path.join(appDir, 'Staticfile')) ||
    hasIndex(appDir, '.') ||
    hasIndex(appDir, 'dist') ||
    hasIndex(appDir, 'public')
  );
}

/** rel (from `source`) as a directory inside appDir, '.' for the root; a BuildError otherwise. */
function checkedRoot(appDir: string, rel: string, source: string): string {
  const abs = path.resolve(appDir, rel);
  const inside = path.relative(appDir, abs);
  if (inside === '..' || inside.startsWith(`..${path.sep}`) || path.isAbsolute(inside)) {
    throw new BuildError(`${source} "${rel}" points outside the app; use a path inside it`);
  }
  let isDir = false;
  try {
    isDir = fs.statSync(abs).isDirectory();
  } catch {
    /* missing */
  }
  if (!isDir) throw new BuildError(`${source} "${rel}" is not a directory in the built app`);
  return inside === '' ? '.' : inside;
}

export interface StaticSite {
  /** The directory served, relative to the app ('.' for its root). */
  root: string;
  /** The file (relative to root) served for unknown paths that are not files, or null for a 404. */
  fallback: string | null;
  /** What the build log should say about the Caddyfile/Staticfile settings. */
  notes: string[];
}

export interface StaticOptions {
  /** The SPA's output directory (and what set it), which a Caddyfile root overrides; null for a plain site. */
  spaRoot: { dir: string; from: string } | null;
  /** Directories tried in order for a plain site, the first holding an index.html wins. */
  candidates: string[];
  /** Used when no candidate has an index.html; null: none (the caller decides). */
  fallbackRoot: string | null;
}

/**
 * Where a static site is served from and what unknown paths get, like Railpack's Caddy setup. Root: for an SPA,
 * its output directory; for a plain site RAILPACK_STATIC_FILE_ROOT > Staticfile `root:` > the candidates. A
 * root Caddyfile's `root` wins over both (Railpack runs Caddy with it). Fallback to index.html: Staticfile
 * `index_fallback:` > the Caddyfile's `try_files` > on for SPAs, off for plain sites. null when no root is found.
 */
export function resolveStaticSite(
  appDir: string,
  env: Record<string, string>,
  opts: StaticOptions,
): StaticSite | null {
  const notes: string[] = [];
  const staticfile = readStaticfile(appDir);
  const caddy = readCaddyfile(appDir);
  if (caddy) {
    if (caddy.ignored.length > 0) {
      notes.push(
        `Caddyfile: Berth serves static files with its own edge, not Caddy; it applies root and try_files and ignores ${caddy.ignored.join(', ')}`,
      );
    }
    if (caddy.rootOutside) {
      notes.push(`Caddyfile: root "${caddy.rootOutside}" is outside the app and is ignored`);
    }
  }

  let root: string | null = null;
  const envRoot = env.RAILPACK_STATIC_FILE_ROOT?.trim();
  if (caddy?.root) root = checkedRoot(appDir, caddy.root, 'The Caddyfile root');
  else if (opts.spaRoot) {
    const what =
      opts.spaRoot.from === 'RAILPACK_SPA_OUTPUT_DIR' ? 'RAILPACK_SPA_OUTPUT_DIR' : 'The output directory';
    root = checkedRoot(appDir, opts.spaRoot.dir, what);
  } else if (envRoot) root = checkedRoot(appDir, envRoot, 'RAILPACK_STATIC_FILE_ROOT');
  else if (staticfile?.root) root = checkedRoot(appDir, staticfile.root, 'Staticfile root');
  else root = opts.candidates.find((c) => hasIndex(appDir, c)) ?? opts.fallbackRoot;
  if (root === null) return null;

  let fallback: string | null = opts.spaRoot ? 'index.html' : null;
  if (staticfile?.indexFallback !== null && staticfile?.indexFallback !== undefined) {
    fallback = staticfile.indexFallback ? 'index.html' : null;
  } else if (caddy && caddy.fallback !== null) {
    fallback = caddy.fallback === '' ? null : caddy.fallback;
  }
  return { root, fallback, notes };
}

/** For the build log: what unknown paths get. */
export function fallbackText(site: StaticSite): string {
  return site.fallback ? `, unknown paths fall back to ${site.fallback}` : '';
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
  const site = resolveStaticSite(ctx.appDir, ctx.userEnv, {
    spaRoot: null,
    candidates: ['dist', 'public'],
    fallbackRoot: '.',
  }) ?? { root: '.', fallback: null, notes: [] };
  for (const note of site.notes) ctx.log(note, 'system');
  ctx.log(
    `serving static files from ${site.root === '.' ? 'the app root' : `${site.root}/`}${fallbackText(site)}`,
    'system',
  );
  return {
    provider: 'static',
    kind: 'static',
    startCommand: null,
    staticRoot: site.root,
    staticFallback: site.fallback,
    runtimeEnv,
    notes: [...det.notes, ...site.notes],
    cache: 'none',
  };
}
