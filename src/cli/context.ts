import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_TOKEN } from '../api/contract/index.js';
import { writeFileAtomic } from '../lib/atomic-write.js';
import { CliError } from './errors.js';

/**
 * Where the CLI finds its server, its token and the project/environment/service a directory belongs to.
 *
 * - url: BERTH_URL > config `url` > http://127.0.0.1:7070
 * - token: BERTH_TOKEN > RAILWAY_TOKEN (a project token, as Railway's CI uses) > config `token` >
 *   `<dataDir>/admin-token` (so a local server just works)
 * - project/environment/service: flags > the link of the nearest linked ancestor directory > the project and
 *   environment a project token names
 */

export const DEFAULT_URL = 'http://127.0.0.1:7070';
export const DEFAULT_ENVIRONMENT = 'production';

export interface Link {
  project: string;
  environment: string;
  service?: string;
}

export interface CliConfig {
  url?: string;
  token?: string;
  /** Absolute directory → what it is linked to. */
  links: Record<string, Link>;
}

/** The -p/-e/-s flags every command accepts. */
export interface ContextFlags {
  project?: string;
  environment?: string;
  service?: string;
}

export interface Target {
  project: string;
  environment: string;
  service: string;
}

export function configPath(): string {
  const fromEnv = process.env.BERTH_CLI_CONFIG;
  return fromEnv ? path.resolve(fromEnv) : path.join(os.homedir(), '.berth', 'cli.json');
}

/** The server's data directory (where a local server keeps `admin-token` and `server.log`). */
export function dataDir(): string {
  const fromEnv = process.env.BERTH_DATA_DIR;
  return fromEnv ? path.resolve(fromEnv) : path.join(os.homedir(), '.berth');
}

/** `~/x` instead of `/home/me/x`, for messages. */
export function tildify(p: string): string {
  const home = os.homedir();
  if (home && (p === home || p.startsWith(home + path.sep))) return `~${p.slice(home.length)}`;
  return p;
}

function isLink(v: unknown): v is Link {
  if (typeof v !== 'object' || v === null) return false;
  const l = v as Record<string, unknown>;
  return (
    typeof l.project === 'string' &&
    typeof l.environment === 'string' &&
    (l.service === undefined || typeof l.service === 'string')
  );
}

export function readConfig(): CliConfig {
  const file = configPath();
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { links: {} };
    throw new CliError(`Cannot read the CLI config ${tildify(file)}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError(`The CLI config ${tildify(file)} is not valid JSON; fix it or delete it`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CliError(`The CLI config ${tildify(file)} must hold a JSON object; fix it or delete it`);
  }
  const raw = parsed as Record<string, unknown>;
  const config: CliConfig = { links: {} };
  if (typeof raw.url === 'string' && raw.url) config.url = raw.url;
  if (typeof raw.token === 'string' && raw.token) config.token = raw.token;
  if (typeof raw.links === 'object' && raw.links !== null) {
    for (const [dir, link] of Object.entries(raw.links as Record<string, unknown>)) {
      if (isLink(link)) config.links[dir] = link;
    }
  }
  return config;
}

/** Writes the config atomically with mode 0600 (it may hold a token). */
export function writeConfig(config: CliConfig): void {
  const file = configPath();
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileAtomic(file, `${JSON.stringify(config, null, 2)}\n`);
}

export function updateConfig(change: (config: CliConfig) => void): CliConfig {
  const config = readConfig();
  change(config);
  writeConfig(config);
  return config;
}

/** The server URL and whether the user chose it (env or config) rather than getting the default. */
export function resolveUrl(config: CliConfig = readConfig()): { url: string; configured: boolean } {
  const fromEnv = process.env.BERTH_URL;
  const url = fromEnv || config.url;
  if (url) return { url: url.replace(/\/+$/, ''), configured: true };
  return { url: DEFAULT_URL, configured: false };
}

export function adminTokenPath(): string {
  return path.join(dataDir(), 'admin-token');
}

export function resolveToken(config: CliConfig = readConfig()): string | undefined {
  const fromEnv = process.env.BERTH_TOKEN || process.env.RAILWAY_TOKEN;
  if (fromEnv) return fromEnv;
  if (config.token) return config.token;
  try {
    const token = fs.readFileSync(adminTokenPath(), 'utf8').trim();
    return token || undefined;
  } catch {
    return undefined;
  }
}

/** The link of dir or of its nearest linked ancestor. */
export function findLink(config: CliConfig, dir: string): { dir: string; link: Link } | undefined {
  let current = path.resolve(dir);
  for (;;) {
    const link = config.links[current];
    if (link) return { dir: current, link };
    const parent = path.dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
}

export interface PartialTarget {
  project?: string;
  environment: string;
  service?: string;
  /** The linked directory the values came from, if any. */
  linkDir?: string;
}

/** Flags > nearest link; environment falls back to "production". Nothing is required yet. */
export function resolvePartialTarget(
  flags: ContextFlags,
  config: CliConfig = readConfig(),
  dir: string = process.cwd(),
): PartialTarget {
  const found = findLink(config, dir);
  const link = found?.link;
  // A link only supplies the service/environment when it is for the same project the flags name.
  const sameProject = !flags.project || !link || flags.project === link.project;
  // A project token names its project and environment (ids): CI with only the token needs no link.
  const scoped = !flags.project && !link ? tokenScope(resolveToken(config)) : null;
  return {
    project: flags.project || link?.project || scoped?.project,
    environment:
      flags.environment ||
      (sameProject ? link?.environment : undefined) ||
      scoped?.environment ||
      DEFAULT_ENVIRONMENT,
    service: flags.service || (sameProject ? link?.service : undefined),
    linkDir: found?.dir,
  };
}

/** The project and environment ids a project token (`berth token create`) is for; null for other tokens. */
export function tokenScope(token: string | undefined): { project: string; environment: string } | null {
  const m = token ? PROJECT_TOKEN.exec(token) : null;
  return m ? { project: m[1], environment: m[2] } : null;
}

export function requireProject(t: PartialTarget): string {
  if (!t.project) {
    throw new CliError(
      'No project is linked to this directory; run `berth init` or `berth link -p <project>`, or pass -p <project>',
    );
  }
  return t.project;
}

/** Project, environment and service, or a one-sentence error saying how to provide the missing one. */
export function resolveTarget(flags: ContextFlags, config?: CliConfig, dir?: string): Target {
  const t = resolvePartialTarget(flags, config, dir);
  const project = requireProject(t);
  if (!t.service) {
    throw new CliError(
      `No service is linked to this directory; pass -s <service> or run \`berth link -p ${project} -s <service>\``,
    );
  }
  return { project, environment: t.environment, service: t.service };
}
