/**
 * Single-page apps, after Railpack's Node SPA mode: Vite, Astro (static), CRA, Angular, React Router (ssr:false)
 * and Next (`output: 'export'`) builds are served as static files with an index.html fallback, from the
 * framework's output directory. Reads files only; the build decides what to do with the answer.
 */
import path from 'node:path';
import { readAppText } from './app-files.js';
import type { PackageJson } from './detect.js';

export type SpaFramework = 'vite' | 'astro' | 'cra' | 'angular' | 'react-router' | 'next';

export interface Spa {
  /** null when RAILPACK_SPA_OUTPUT_DIR forced SPA mode without a framework Berth knows. */
  framework: SpaFramework | null;
  /** The build's output directory, relative to the app. */
  outputDir: string;
  /** Where outputDir came from, for the build log. */
  outputFrom: string;
}

/** Start scripts that run a dev server, which Railpack does not count as the app's own start command. */
const DEV_STARTS = new Set([
  'ng serve',
  'react-scripts start',
  'next start',
  'react-router-serve ./build/server/index.js',
]);

/** Railpack's truthy config values ("1", "true"). */
export function isTruthy(v: string | undefined): boolean {
  const t = v?.trim().toLowerCase();
  return t === '1' || t === 'true' || t === 'yes';
}

function hasDependency(pkg: PackageJson, name: string): boolean {
  for (const field of ['dependencies', 'devDependencies'] as const) {
    const deps = pkg.deps[field];
    if (deps && typeof deps === 'object' && Object.hasOwn(deps, name)) return true;
  }
  return false;
}

function firstText(appDir: string, files: string[]): string {
  for (const f of files) {
    const text = readAppText(appDir, f);
    if (text !== null) return text;
  }
  return '';
}

function capture(text: string, re: RegExp): string | null {
  return re.exec(text)?.[1] ?? null;
}

const OUT_DIR = /outDir:\s*['"](.+?)['"]/;
const VITE_CONFIGS = ['vite.config.js', 'vite.config.ts', 'vite.config.mjs', 'vite.config.mts'];
const ASTRO_CONFIGS = ['astro.config.mjs', 'astro.config.ts'];
const NEXT_CONFIGS = ['next.config.js', 'next.config.mjs', 'next.config.ts'];
const RR_CONFIGS = ['react-router.config.js', 'react-router.config.ts'];
const RR_SPA = /(?:^|[{,])\s*['"]?ssr['"]?\s*:\s*false\b/m;

function buildScript(pkg: PackageJson): string {
  return (pkg.scripts.build ?? '').toLowerCase();
}

function vite(appDir: string, pkg: PackageJson): Spa | null {
  const hasConfig = VITE_CONFIGS.some((f) => readAppText(appDir, f) !== null);
  const isVite =
    hasDependency(pkg, 'vite') &&
    pkg.scripts.build !== undefined &&
    (buildScript(pkg).includes('vite build') || hasConfig) &&
    // SvelteKit and TanStack Start build servers, not static sites.
    !hasDependency(pkg, '@sveltejs/kit') &&
    !hasDependency(pkg, '@tanstack/react-start');
  if (!isVite) return null;
  const configured = capture(firstText(appDir, VITE_CONFIGS), OUT_DIR);
  if (configured)
    return { framework: 'vite', outputDir: configured, outputFrom: 'build.outDir in the Vite config' };
  const flag = capture(pkg.scripts.build ?? '', /vite\s+build(?:\s+-[^\s]*)*\s+--outDir[\s=]+([^-\s;]+)/);
  if (flag) return { framework: 'vite', outputDir: flag, outputFrom: '--outDir in the build script' };
  return { framework: 'vite', outputDir: 'dist', outputFrom: "Vite's default" };
}

function astro(appDir: string, pkg: PackageJson): Spa | null {
  const config = firstText(appDir, ASTRO_CONFIGS);
  if (config === '' || !buildScript(pkg).includes('astro build')) return null;
  const server =
    /output:\s*['"]server['"]/.test(config) ||
    ['@astrojs/node', '@astrojs/vercel', '@astrojs/cloudflare', '@astrojs/netlify'].some((d) =>
      hasDependency(pkg, d),
    );
  if (server) return null;
  const configured = capture(config, OUT_DIR);
  return configured
    ? { framework: 'astro', outputDir: configured, outputFrom: 'outDir in the Astro config' }
    : { framework: 'astro', outputDir: 'dist', outputFrom: "Astro's default" };
}

function next(appDir: string, pkg: PackageJson): Spa | null {
  if (!hasDependency(pkg, 'next')) return null;
  const config = firstText(appDir, NEXT_CONFIGS);
  if (!/output:\s*['"]export['"]/.test(config)) return null;
  const configured = capture(config, /distDir:\s*['"](.+?)['"]/);
  return configured
    ? { framework: 'next', outputDir: configured, outputFrom: 'distDir in the Next config' }
    : { framework: 'next', outputDir: 'out', outputFrom: "Next's export default" };
}

function cra(pkg: PackageJson): Spa | null {
  if (!hasDependency(pkg, 'react-scripts') || !buildScript(pkg).includes('react-scripts build')) return null;
  return { framework: 'cra', outputDir: 'build', outputFrom: "Create React App's default" };
}

/** angular.json's build outputPath (a string, or `{ base, browser }` since Angular 17). */
function angular(appDir: string, pkg: PackageJson, project: string | undefined): Spa | null {
  const text = readAppText(appDir, 'angular.json');
  if (text === null || !hasDependency(pkg, '@angular/core') || !buildScript(pkg).includes('ng build'))
    return null;
  let projects: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(text) as { projects?: Record<string, unknown> };
    projects = parsed.projects && typeof parsed.projects === 'object' ? parsed.projects : {};
  } catch {
    return null;
  }
  for (const [name, value] of Object.entries(projects)) {
    if (project && project !== name) continue;
    const build = (
      value as { architect?: { build?: { builder?: string; options?: Record<string, unknown> } } }
    )?.architect?.build;
    const options = build?.options ?? {};
    const application =
      build?.builder === '@angular-devkit/build-angular:application' ||
      build?.builder === '@angular/build:application' ||
      typeof options.browser === 'string';
    const out = options.outputPath;
    let dir: string;
    if (typeof out === 'string') dir = application ? path.posix.join(out, 'browser') : out;
    else if (out && typeof out === 'object' && typeof (out as { base?: unknown }).base === 'string') {
      const o = out as { base: string; browser?: unknown };
      dir = path.posix.join(o.base, typeof o.browser === 'string' ? o.browser : 'browser');
    } else dir = application ? `dist/${name}/browser` : `dist/${name}`;
    return {
      framework: 'angular',
      outputDir: dir,
      outputFrom: `outputPath of project ${name} in angular.json`,
    };
  }
  return null;
}

/** React Router: SPA only with `ssr: false` in its config (SSR is its default). null: not React Router. */
function reactRouter(appDir: string, pkg: PackageJson): { spa: Spa | null } | null {
  const config = firstText(appDir, RR_CONFIGS);
  const is =
    pkg.scripts.build !== undefined &&
    (config !== '' ||
      buildScript(pkg).includes('react-router build') ||
      hasDependency(pkg, '@react-router/dev'));
  if (!is) return null;
  if (!RR_SPA.test(config)) return { spa: null };
  const configured = capture(config, /buildDirectory:\s*['"](.+?)['"]/);
  const outputDir = configured ? path.posix.join(configured, 'client') : 'build/client';
  return {
    spa: {
      framework: 'react-router',
      outputDir,
      outputFrom: configured ? 'buildDirectory in the React Router config' : "React Router's default",
    },
  };
}

/**
 * The SPA this Node app builds, or null (a server, or not an SPA). `customStart` is a start command the app
 * set itself (deploy.startCommand, a Procfile, or a start script other than a framework's dev server): such
 * an app runs as a process, as on Railpack. `env` is the service's variables.
 */
export function detectSpa(
  appDir: string,
  pkg: PackageJson,
  env: Record<string, string>,
  explicitStart: boolean,
): Spa | null {
  if (isTruthy(env.RAILPACK_NO_SPA)) return null;
  const forced = env.RAILPACK_SPA_OUTPUT_DIR?.trim();
  const found = (() => {
    const rr = reactRouter(appDir, pkg);
    if (rr) return rr.spa;
    return (
      vite(appDir, pkg) ??
      astro(appDir, pkg) ??
      next(appDir, pkg) ??
      cra(pkg) ??
      angular(appDir, pkg, env.RAILPACK_ANGULAR_PROJECT?.trim() || undefined)
    );
  })();
  if (forced) {
    return { framework: found?.framework ?? null, outputDir: forced, outputFrom: 'RAILPACK_SPA_OUTPUT_DIR' };
  }
  const start = pkg.scripts.start?.trim();
  if (explicitStart || (start && !DEV_STARTS.has(start))) return null;
  return found;
}
