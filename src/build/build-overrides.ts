/**
 * Railpack's and Nixpacks' configuration surface: railpack.json, nixpacks.toml and the RAILPACK_* /
 * NIXPACKS_* service variables, turned into install/build/start commands (each with where it came from)
 * and a forced provider. What Berth cannot honour is returned as a warning naming it, never dropped.
 */
import { parse as parseToml } from 'smol-toml';
import { BuildError } from '../core/errors.js';
import type { ServiceConfig, ValueOrigin } from '../core/model.js';
import { readAppText } from './app-files.js';

export interface CommandOverride {
  command: string;
  /** For the build log: "RAILPACK_START_CMD", "railpack.json deploy.startCommand", ... */
  from: string;
  /** For the deployment's configOrigins: the file (railpack.json, nixpacks.toml) or the variable. */
  origin: ValueOrigin;
}

export interface BuildOverrides {
  install: CommandOverride | null;
  build: CommandOverride | null;
  start: CommandOverride | null;
  /** railpack.json "provider" (Railpack's name, lower-cased), or null. */
  provider: { name: string; from: string } | null;
  /** Variables the runtime-version pickers read (railpack.json packages.node → RAILPACK_NODE_VERSION). */
  env: Record<string, string>;
  /** Lines for the build log: settings Berth does not honour, named. */
  warnings: string[];
  /** Where these came from, for the build log ("read railpack.json"). */
  notes: string[];
}

/** What one file or set of variables asks for, before precedence is applied. */
interface Layer {
  install?: CommandOverride;
  build?: CommandOverride;
  start?: CommandOverride;
}

/** Railpack/Nixpacks variables whose job Berth does not do (yet): warned about by name when set. */
const UNSUPPORTED_VARIABLES: Record<string, string> = {
  RAILPACK_PACKAGES: 'Berth does not install mise packages; install them on the host',
  RAILPACK_BUILD_APT_PACKAGES: 'Berth does not install apt packages for builds; install them on the host',
  RAILPACK_DEPLOY_APT_PACKAGES: 'Berth does not install apt packages for replicas; install them on the host',
  RAILPACK_DISABLE_CACHES: 'set NO_CACHE=1 to build without Berth’s dependency cache',
  RAILPACK_VERSION: 'Berth builds natively and has no Railpack version to pin',
  NIXPACKS_PKGS: 'Berth does not install Nix packages; install them on the host',
  NIXPACKS_APT_PKGS: 'Berth does not install apt packages; install them on the host',
  NIXPACKS_LIBS: 'Berth does not install Nix libraries; install them on the host',
  NIXPACKS_INSTALL_CACHE_DIRS: 'Berth caches dependency installs itself and keeps no other directories',
  NIXPACKS_BUILD_CACHE_DIRS: 'Berth caches dependency installs itself and keeps no other directories',
  NIXPACKS_VERSION: 'Berth builds natively and has no Nixpacks version to pin',
};

/** Railpack's provider names that Berth spells differently; the others are the same word. */
const PROVIDER_NAMES: Record<string, string> = { staticfile: 'static' };

const fileOrigin = (file: string): ValueOrigin => ({ source: 'file', file });

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A railpack.json step's commands as one shell line; other command kinds are named in warnings. */
function stepCommands(file: string, key: string, value: unknown, warnings: string[]): string | null {
  if (value === undefined) return null;
  if (!Array.isArray(value))
    throw new BuildError(`${file}: ${key} must be a list of commands; fix it and deploy again`);
  const cmds: string[] = [];
  for (const [i, c] of value.entries()) {
    if (typeof c === 'string') cmds.push(c);
    else if (isRecord(c) && typeof c.cmd === 'string') cmds.push(c.cmd);
    else if (isRecord(c) && ('src' in c || 'path' in c)) {
      warnings.push(
        `${file}: ${key}[${i}] (a copy or PATH entry) is not supported by Berth and was skipped; use a command instead`,
      );
    } else {
      throw new BuildError(
        `${file}: ${key}[${i}] must be a command string or {"cmd": "..."}; fix it and deploy again`,
      );
    }
  }
  return cmds.length > 0 ? cmds.join(' && ') : null;
}

const RAILPACK_TOP_KEYS = new Set(['$schema', 'provider', 'packages', 'steps', 'deploy']);
const RAILPACK_STEP_KEYS = new Set(['commands']);
const RAILPACK_DEPLOY_KEYS = new Set(['startCommand']);

/** railpack.json (or RAILPACK_CONFIG_FILE): its commands, provider and packages. Pure. */
export function parseRailpackJson(
  text: string,
  file: string,
): { layer: Layer; provider: string | null; env: Record<string, string>; warnings: string[] } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new BuildError(`${file} is not valid JSON (${(err as Error).message}); fix it and deploy again`);
  }
  if (!isRecord(doc)) throw new BuildError(`${file} must hold a JSON object; fix it and deploy again`);
  const warnings: string[] = [];
  const env: Record<string, string> = {};
  const layer: Layer = {};
  for (const key of Object.keys(doc)) {
    if (!RAILPACK_TOP_KEYS.has(key))
      warnings.push(`${file}: "${key}" is not supported by Berth and is ignored`);
  }
  let provider: string | null = null;
  if (doc.provider !== undefined) {
    if (typeof doc.provider !== 'string')
      throw new BuildError(`${file}: provider must be a string; fix it and deploy again`);
    provider = doc.provider.trim().toLowerCase();
  }
  if (doc.packages !== undefined) {
    if (!isRecord(doc.packages))
      throw new BuildError(`${file}: packages must be an object; fix it and deploy again`);
    for (const [name, version] of Object.entries(doc.packages)) {
      if (typeof version !== 'string') {
        throw new BuildError(`${file}: packages.${name} must be a version string; fix it and deploy again`);
      }
      if (name === 'node') env.RAILPACK_NODE_VERSION = version;
      else if (name === 'python') env.RAILPACK_PYTHON_VERSION = version;
      else {
        warnings.push(
          `${file}: packages.${name} ("${version}") is not installed by Berth; install ${name} on the host`,
        );
      }
    }
  }
  if (doc.steps !== undefined) {
    if (!isRecord(doc.steps))
      throw new BuildError(`${file}: steps must be an object; fix it and deploy again`);
    for (const [name, step] of Object.entries(doc.steps)) {
      if (!isRecord(step))
        throw new BuildError(`${file}: steps.${name} must be an object; fix it and deploy again`);
      if (name !== 'install' && name !== 'build') {
        warnings.push(
          `${file}: steps.${name} is not run by Berth (only steps.install and steps.build are); fold its commands into those`,
        );
        continue;
      }
      for (const key of Object.keys(step)) {
        if (!RAILPACK_STEP_KEYS.has(key)) {
          warnings.push(`${file}: steps.${name}.${key} is not supported by Berth and is ignored`);
        }
      }
      const command = stepCommands(file, `steps.${name}.commands`, step.commands, warnings);
      if (command) layer[name] = { command, from: `${file} steps.${name}`, origin: fileOrigin(file) };
    }
  }
  if (doc.deploy !== undefined) {
    if (!isRecord(doc.deploy))
      throw new BuildError(`${file}: deploy must be an object; fix it and deploy again`);
    for (const key of Object.keys(doc.deploy)) {
      if (!RAILPACK_DEPLOY_KEYS.has(key)) {
        warnings.push(`${file}: deploy.${key} is not supported by Berth and is ignored`);
      }
    }
    const start = doc.deploy.startCommand;
    if (start !== undefined) {
      if (typeof start !== 'string') {
        throw new BuildError(`${file}: deploy.startCommand must be a string; fix it and deploy again`);
      }
      if (start.trim()) {
        layer.start = {
          command: start.trim(),
          from: `${file} deploy.startCommand`,
          origin: fileOrigin(file),
        };
      }
    }
  }
  return { layer, provider, env, warnings };
}

const NIXPACKS_TOP_KEYS = new Set(['phases', 'start']);

/** phases.setup installs Nix/apt packages, which Berth does not: each package is named. */
function setupWarnings(file: string, phase: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(phase)) {
    const names = Array.isArray(value) ? value.filter((v) => typeof v === 'string' && v !== '...') : [];
    if (names.length > 0 && /^(nixPkgs|aptPkgs|nixLibs|nixOverlays)$/.test(key)) {
      out.push(
        `${file}: phases.setup.${key} (${names.join(', ')}) is not installed by Berth; install ${names.length === 1 ? 'it' : 'them'} on the host`,
      );
    } else if (names.length > 0 || !Array.isArray(value)) {
      out.push(`${file}: phases.setup.${key} is not supported by Berth and is ignored`);
    }
  }
  return out;
}

/** nixpacks.toml (or NIXPACKS_CONFIG_FILE): phases.install/build cmds and start.cmd. Pure. */
export function parseNixpacksToml(text: string, file: string): { layer: Layer; warnings: string[] } {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    const first = (err as Error).message.split('\n')[0];
    throw new BuildError(`${file} is not valid TOML (${first}); fix it and deploy again`);
  }
  const warnings: string[] = [];
  const layer: Layer = {};
  for (const key of Object.keys(doc)) {
    if (!NIXPACKS_TOP_KEYS.has(key))
      warnings.push(`${file}: "${key}" is not supported by Berth and is ignored`);
  }
  const phases = doc.phases;
  if (phases !== undefined && !isRecord(phases)) {
    throw new BuildError(`${file}: phases must be a table; fix it and deploy again`);
  }
  for (const [name, phase] of Object.entries(phases ?? {})) {
    if (!isRecord(phase))
      throw new BuildError(`${file}: phases.${name} must be a table; fix it and deploy again`);
    if (name === 'setup') {
      warnings.push(...setupWarnings(file, phase));
      continue;
    }
    if (name !== 'install' && name !== 'build') {
      warnings.push(`${file}: phases.${name} is not run by Berth (only install and build are)`);
      continue;
    }
    for (const key of Object.keys(phase)) {
      if (key !== 'cmds')
        warnings.push(`${file}: phases.${name}.${key} is not supported by Berth and is ignored`);
    }
    const cmds = phase.cmds;
    if (cmds === undefined) continue;
    if (!Array.isArray(cmds) || !cmds.every((c) => typeof c === 'string')) {
      throw new BuildError(`${file}: phases.${name}.cmds must be a list of strings; fix it and deploy again`);
    }
    if (cmds.includes('...')) {
      // "..." splices in the provider's own commands, which Berth's providers do not expose as a list.
      warnings.push(
        `${file}: phases.${name}.cmds uses "..." (the provider's commands plus yours), which Berth does not support; Berth ran its own ${name} step only`,
      );
      continue;
    }
    if (cmds.length > 0) {
      layer[name] = {
        command: cmds.join(' && '),
        from: `${file} phases.${name}.cmds`,
        origin: fileOrigin(file),
      };
    }
  }
  const start = doc.start;
  if (start !== undefined) {
    if (!isRecord(start)) throw new BuildError(`${file}: start must be a table; fix it and deploy again`);
    for (const key of Object.keys(start)) {
      if (key !== 'cmd') warnings.push(`${file}: start.${key} is not supported by Berth and is ignored`);
    }
    if (start.cmd !== undefined) {
      if (typeof start.cmd !== 'string')
        throw new BuildError(`${file}: start.cmd must be a string; fix it and deploy again`);
      if (start.cmd.trim()) {
        layer.start = { command: start.cmd.trim(), from: `${file} start.cmd`, origin: fileOrigin(file) };
      }
    }
  }
  return { layer, warnings };
}

function variableLayer(env: Record<string, string>, prefix: 'RAILPACK' | 'NIXPACKS'): Layer {
  const layer: Layer = {};
  for (const [step, suffix] of [
    ['install', 'INSTALL_CMD'],
    ['build', 'BUILD_CMD'],
    ['start', 'START_CMD'],
  ] as const) {
    const name = `${prefix}_${suffix}`;
    const value = env[name]?.trim();
    if (value) layer[step] = { command: value, from: name, origin: { source: 'variable', variable: name } };
  }
  return layer;
}

/**
 * The config file a variable names (kept inside the app; a leading slash means the app's root), else
 * `fallback`, and its text: null when it is absent, a BuildError when the variable names a file the app
 * does not have.
 */
function configFile(
  appDir: string,
  env: Record<string, string>,
  variable: string,
  fallback: string,
): { file: string; text: string | null } {
  const raw = env[variable]?.trim();
  if (!raw) return { file: fallback, text: readAppText(appDir, fallback) };
  const file = raw.replace(/\\/g, '/').replace(/^\/+/, '');
  if (file === '' || file.split('/').includes('..')) {
    throw new BuildError(`${variable} must name a file inside the app ("${raw}" does not); fix the variable`);
  }
  const text = readAppText(appDir, file);
  if (text === null) {
    throw new BuildError(
      `${variable} names ${file}, which is not a file in the app; add it or fix the variable`,
    );
  }
  return { file, text };
}

/**
 * The overrides for one build, with Railway's precedence: railway.toml build.buildCommand /
 * deploy.startCommand (applied by the caller, which only uses these when those are unset) > RAILPACK_*
 * variables > railpack.json > NIXPACKS_* variables > nixpacks.toml > detection.
 */
export function readBuildOverrides(appDir: string, env: Record<string, string>): BuildOverrides {
  const warnings: string[] = [];
  const notes: string[] = [];
  const layers: Layer[] = [variableLayer(env, 'RAILPACK')];
  let provider: BuildOverrides['provider'] = null;
  let toolEnv: Record<string, string> = {};

  const { file: railpackFile, text: railpackText } = configFile(
    appDir,
    env,
    'RAILPACK_CONFIG_FILE',
    'railpack.json',
  );
  if (railpackText !== null) {
    const parsed = parseRailpackJson(railpackText, railpackFile);
    notes.push(`read ${railpackFile}`);
    layers.push(parsed.layer);
    warnings.push(...parsed.warnings);
    if (parsed.provider) provider = { name: parsed.provider, from: `${railpackFile} provider` };
    // A version set as a variable wins over the file's packages.
    toolEnv = Object.fromEntries(Object.entries(parsed.env).filter(([k]) => !env[k]?.trim()));
  }

  layers.push(variableLayer(env, 'NIXPACKS'));
  const { file: nixFile, text: nixText } = configFile(appDir, env, 'NIXPACKS_CONFIG_FILE', 'nixpacks.toml');
  if (nixText !== null) {
    const parsed = parseNixpacksToml(nixText, nixFile);
    notes.push(`read ${nixFile}`);
    layers.push(parsed.layer);
    warnings.push(...parsed.warnings);
  }

  for (const [name, why] of Object.entries(UNSUPPORTED_VARIABLES)) {
    if (env[name]?.trim()) warnings.push(`${name} is set but not honoured: ${why}`);
  }
  const pick = (step: keyof Layer) => layers.find((l) => l[step])?.[step] ?? null;
  return {
    install: pick('install'),
    build: pick('build'),
    start: pick('start'),
    provider,
    env: toolEnv,
    warnings,
    notes,
  };
}

/** Berth's name for a Railpack provider name (the caller checks that Berth has that provider). */
export function berthProvider(name: string): string {
  return Object.hasOwn(PROVIDER_NAMES, name) ? PROVIDER_NAMES[name] : name;
}

/** railway.toml's commands win over every override (Railway: config as code overrides everything). */
export function effectiveBuildCommand(
  config: ServiceConfig,
  o: BuildOverrides,
): Pick<CommandOverride, 'command' | 'from'> | null {
  const fromConfig = config.build.buildCommand?.trim();
  return fromConfig ? { command: fromConfig, from: 'build.buildCommand' } : o.build;
}

/**
 * The deployment's config with the build and start commands these overrides give where the config itself has
 * none (railway.toml and service settings win, as in effectiveBuildCommand and detection), each recorded in
 * origins with its file or variable, so the deployment shows where its commands came from.
 */
export function withOverrides<T extends { config: ServiceConfig; origins: Record<string, ValueOrigin> }>(
  loaded: T,
  o: BuildOverrides,
): T {
  const build = { ...loaded.config.build };
  const deploy = { ...loaded.config.deploy };
  const origins = { ...loaded.origins };
  if (!build.buildCommand?.trim() && o.build) {
    build.buildCommand = o.build.command;
    origins['build.buildCommand'] = o.build.origin;
  }
  if (!deploy.startCommand?.trim() && o.start) {
    deploy.startCommand = o.start.command;
    origins['deploy.startCommand'] = o.start.origin;
  }
  return { ...loaded, config: { ...loaded.config, build, deploy }, origins };
}
