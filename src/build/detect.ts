/**
 * Provider detection, after Nixpacks/Railpack (see shared reference §4): looks at the app's root and
 * decides which provider builds it. Reads files only; runs nothing.
 *
 * Order: Node (package.json) and Python (requirements.txt, pyproject.toml, main.py, ...) — Node wins
 * when both are present unless only Python has something to run — then a static site, then a bare
 * start command (deploy.startCommand → 'shell', Procfile → 'procfile'). An explicit start command or a
 * Procfile entry serves as the start of any provider.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BuildError } from '../core/errors.js';
import type { ServiceConfig } from '../core/model.js';
import { readAppText } from './app-files.js';
import { which } from './exec.js';
import { appName, detectLanguage, type LanguageMatch, unbuildableMessage } from './languages.js';
import { type Procfile, readProcfile } from './procfile.js';
import { looksStatic } from './static.js';
import type { BuildResult } from './types.js';

/** Python entry files Railpack recognises, in the order Berth picks a start from. */
export const PYTHON_MAINS = ['main.py', 'app.py', 'server.py', 'start.py', 'bot.py', 'hello.py'];

export interface PackageJson {
  scripts: Record<string, string>;
  main: string | null;
  packageManager: string | null;
  /** engines.node, engines.pnpm, ... (string values only). */
  engines: Record<string, string>;
  /**
   * The fields that decide what an install produces (dependency maps, overrides/resolutions, packageManager,
   * engines, workspaces): part of the install cache key, so a changed manifest never reuses an old install.
   */
  deps: Record<string, unknown>;
}

/** package.json fields an install depends on (see PackageJson.deps). */
export const INSTALL_FIELDS = [
  'dependencies',
  'devDependencies',
  'optionalDependencies',
  'peerDependencies',
  'bundleDependencies',
  'bundledDependencies',
  'overrides',
  'resolutions',
  'pnpm',
  'workspaces',
  'packageManager',
  'engines',
] as const;

export interface StartSpec {
  command: string;
  /** Where it came from, for the log: "deploy.startCommand" or "Procfile web". */
  source: string;
}

export interface Detection {
  provider: BuildResult['provider'];
  /** The start command from deploy.startCommand or the Procfile; providers fall back to their own. */
  start: StartSpec | null;
  procfile: Procfile | null;
  /** Parsed package.json when the app has one. */
  pkg: PackageJson | null;
  /** The first of PYTHON_MAINS present at the root. */
  pythonMain: string | null;
  /** Another language of Railpack's (Go, Rust, ...) found by its files, or null. */
  language: LanguageMatch | null;
  /** Why this provider, for the build log. */
  reason: string;
  notes: string[];
}

function isFile(appDir: string, rel: string): boolean {
  try {
    return fs.statSync(path.join(appDir, rel)).isFile();
  } catch {
    return false;
  }
}

function stringRecord(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  }
  return out;
}

export function readPackageJson(appDir: string): PackageJson {
  // Through readAppText: a package.json linked to a host file must not reach the log via a JSON error.
  const text = readAppText(appDir, 'package.json');
  if (text === null) {
    throw new BuildError('package.json could not be read as a file inside the app; fix it and deploy again');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new BuildError(`package.json could not be read as JSON (${why}); fix it and deploy again`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new BuildError('package.json must hold a JSON object; fix it and deploy again');
  }
  const obj = parsed as Record<string, unknown>;
  const deps: Record<string, unknown> = {};
  for (const key of INSTALL_FIELDS) {
    if (obj[key] !== undefined) deps[key] = obj[key];
  }
  return {
    scripts: stringRecord(obj.scripts),
    main: typeof obj.main === 'string' && obj.main.trim() !== '' ? obj.main.trim() : null,
    packageManager: typeof obj.packageManager === 'string' ? obj.packageManager : null,
    engines: stringRecord(obj.engines),
    deps,
  };
}

const NOTHING_DETECTED =
  'Berth could not tell how to build this app: no package.json, requirements.txt, pyproject.toml, Procfile or index.html at the root; add one or set deploy.startCommand in railway.toml';
const DOCKERFILE_ONLY =
  'This app can only be built from its Dockerfile, and no container engine driver is configured; add a package.json, requirements.txt, Procfile or index.html, or set deploy.startCommand';

/** What the build's configuration (railpack.json, RAILPACK_* variables) says besides railway.toml. */
export interface DetectHints {
  /** A start command that ranks below deploy.startCommand and above the Procfile (RAILPACK_START_CMD...). */
  start?: StartSpec | null;
  /** A provider forced by railpack.json. */
  provider?: { name: BuildResult['provider']; from: string } | null;
}

/** Decides the provider, or throws the BuildError the user should read. */
export function detect(
  appDir: string,
  config: ServiceConfig,
  hints: DetectHints = {},
  env: Record<string, string> = {},
  pathVar: string = process.env.PATH ?? '',
): Detection {
  const notes: string[] = [];
  const explicit = config.deploy.startCommand?.trim() || null;
  const procfile = readProcfile(appDir);
  if (procfile?.release) {
    notes.push(
      `The Procfile's release entry ("${procfile.release}") is not the start command and Berth does not run it; set deploy.preDeployCommand in railway.toml to run it before each deploy`,
    );
  }
  let start: StartSpec | null = null;
  if (explicit) start = { command: explicit, source: 'deploy.startCommand' };
  else if (hints.start) start = hints.start;
  else if (procfile?.start)
    start = { command: procfile.start.command, source: `Procfile ${procfile.start.name}` };

  const pkg = isFile(appDir, 'package.json') ? readPackageJson(appDir) : null;
  const pythonMain = PYTHON_MAINS.find((f) => isFile(appDir, f)) ?? null;
  const pythonFile =
    ['requirements.txt', 'pyproject.toml', 'Pipfile'].find((f) => isFile(appDir, f)) ?? pythonMain;
  // Django's manage.py is a start of its own (migrate + gunicorn), like a main file.
  const pythonRunnable = pythonMain !== null || isFile(appDir, 'manage.py');
  const isStatic = looksStatic(appDir, env);

  const nodeOwnStart =
    pkg !== null && (!!pkg.scripts.start || pkg.main !== null || isFile(appDir, 'index.js'));

  let provider: BuildResult['provider'] | null = null;
  let reason = '';
  let problem: string | null = null;
  const rootDockerfile = isFile(appDir, 'Dockerfile');

  // Railpack's order: PHP, Go, Java, Rust, Ruby, Elixir before Python; Deno after Python, before Node.
  const language = detectLanguage(appDir, false) ?? (pythonFile ? null : detectLanguage(appDir, true));
  let languageProblem: string | null = null;
  if (language?.language.builds) {
    provider = 'go';
    reason = `found ${language.file}`;
  } else if (language && start) {
    provider = explicit ? 'shell' : 'procfile';
    reason = `${appName(language.language)} (${language.file}); Berth runs ${start.source} and build.buildCommand as they are`;
  } else if (language) {
    languageProblem = unbuildableMessage(
      language,
      which(language.language.tool, pathVar) !== null,
      rootDockerfile,
    );
  } else if (pkg && pythonFile && !start && !nodeOwnStart && pythonMain) {
    provider = 'python';
    reason = `${pythonMain} is the only thing to run (package.json has no start script, main or index.js)`;
  } else if (pkg) {
    if (start || nodeOwnStart || pkg.scripts.build) {
      provider = 'node';
      reason = 'found package.json';
    } else if (isStatic) {
      provider = 'static';
      reason = 'package.json has no start or build script, and the app has static files';
    } else {
      problem =
        'Berth detected a Node app (package.json) but found nothing to run: add a "start" script or "main" to package.json, add index.js or a Procfile, or set deploy.startCommand in railway.toml';
    }
  } else if (pythonFile) {
    if (start || pythonRunnable) {
      provider = 'python';
      reason = `found ${pythonFile}`;
    } else if (isStatic) {
      provider = 'static';
      reason = 'found static files and no Python entry file';
    } else {
      problem = `Berth detected a Python app (${pythonFile}) but found nothing to run: add ${PYTHON_MAINS.join(', ')} or a Procfile with a web entry, or set deploy.startCommand in railway.toml`;
    }
  } else if (start) {
    const fromProcfile = start.source.startsWith('Procfile');
    provider = fromProcfile ? 'procfile' : 'shell';
    reason = fromProcfile ? 'found a Procfile' : `${start.source} is set`;
  } else if (isStatic) {
    provider = 'static';
    reason = isFile(appDir, 'Staticfile') ? 'found a Staticfile' : 'found index.html';
  }

  const dockerfilePath = config.build.dockerfilePath?.trim() || 'Dockerfile';
  const requested = config.build.builder === 'DOCKERFILE';
  if (languageProblem) throw new BuildError(languageProblem);
  if (requested || rootDockerfile) {
    const shown = requested ? dockerfilePath : 'Dockerfile';
    if (provider === null) {
      if (isFile(appDir, shown)) throw new BuildError(DOCKERFILE_ONLY);
    } else {
      const why = requested ? `DOCKERFILE builder requested (${shown})` : `Found a Dockerfile (${shown})`;
      notes.unshift(
        `${why}; no container engine driver is configured, so Berth builds natively with the ${provider} provider`,
      );
    }
  }

  if (hints.provider) {
    provider = hints.provider.name;
    reason = `forced by ${hints.provider.from}`;
  }
  if (provider === null) throw new BuildError(problem ?? NOTHING_DETECTED);
  return { provider, start, procfile, pkg, pythonMain, language, reason, notes };
}
