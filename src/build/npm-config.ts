/**
 * The daemon's npm settings for sandboxed builds, which run with a HOME of their own: its user-level .npmrc (a
 * registry mirror, a proxy, `nodedir` for native addons) is copied into the build user's cache and named by
 * npm_config_userconfig — without its credentials, which stay the daemon's (docs/security.md).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { BuildContext } from './exec.js';
import { writeHostFile } from './host-files.js';

/** The daemon's user-level .npmrc, as npm finds it. */
export function daemonNpmrc(env: NodeJS.ProcessEnv): string | null {
  const file =
    env.NPM_CONFIG_USERCONFIG || env.npm_config_userconfig || (env.HOME ? path.join(env.HOME, '.npmrc') : '');
  if (!file || !path.isAbsolute(file)) return null;
  try {
    return fs.statSync(file).isFile() ? file : null;
  } catch {
    return null;
  }
}

/** Keys that carry credentials, bare or scoped to a registry (`//host/path/:_authToken`). */
const SECRET_KEYS = new Set([
  '_auth',
  '_authtoken',
  '_password',
  'password',
  'username',
  'email',
  'certfile',
  'keyfile',
  'key',
  'cert',
]);

/**
 * An .npmrc without its credentials: every `key = value` line whose key, after a `//registry/:` scope, is not a
 * credential. Comments and blank lines go too. `dropped` names what was left out (keys only, never values).
 */
export function publicNpmrc(text: string): { text: string; dropped: string[] } {
  const kept: string[] = [];
  const dropped: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim();
    const bare = key.startsWith('//') ? key.slice(key.lastIndexOf(':') + 1) : key;
    if (SECRET_KEYS.has(bare.toLowerCase())) dropped.push(key);
    else kept.push(line);
  }
  return { text: kept.length > 0 ? `${kept.join('\n')}\n` : '', dropped };
}

/** Variables that give a sandboxed build's npm (and pnpm, yarn 1) the daemon's settings; empty otherwise. */
export async function npmSettingsForBuild(ctx: BuildContext): Promise<Record<string, string>> {
  if (!ctx.sandbox) return {};
  // The service's own choice of npm config file stands.
  if (ctx.userEnv.npm_config_userconfig || ctx.userEnv.NPM_CONFIG_USERCONFIG) return {};
  const source = daemonNpmrc(process.env);
  if (source === null) return {};
  const { text, dropped } = publicNpmrc(await fs.promises.readFile(source, 'utf8'));
  if (dropped.length > 0) {
    ctx.log(
      `the server's npm credentials (${dropped.join(', ')}) are not passed to builds; give a private registry's token as a service variable (an .npmrc in the repository may use \${NPM_TOKEN})`,
      'system',
    );
  }
  return { npm_config_userconfig: await writeHostFile(ctx, 'npmrc', text) };
}
