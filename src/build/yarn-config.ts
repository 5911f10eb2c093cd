/**
 * The daemon's npm settings for Yarn Berry, which never reads .npmrc: its registry, scoped registries, proxy and
 * TLS settings (credentials already left out by publicNpmrc) become a .yarnrc.yml in the directory above the app.
 * Yarn reads rc files from the project up to the root, the closest winning, so the repository's own .yarnrc.yml
 * still decides what it sets, as a project .npmrc does over the user's for npm.
 */

import fs from 'node:fs';
import type { BuildContext } from './exec.js';
import { writeHostFile } from './host-files.js';
import { daemonNpmrc, publicNpmrc } from './npm-config.js';

export interface YarnSettings {
  /** Yarn Berry's settings (JSON is YAML, so this is the .yarnrc.yml). */
  rc: Record<string, unknown>;
  /** Variables for what Yarn has no setting of its own for (node-gyp's nodedir). */
  env: Record<string, string>;
}

const unquote = (v: string) => v.trim().replace(/^(['"])(.*)\1$/, '$2');

/** The host a URL names, for unsafeHttpWhitelist when it is plain http; null for https or a bad URL. */
function httpHost(url: string): string | null {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' ? u.hostname : null;
  } catch {
    return null;
  }
}

/**
 * An .npmrc (already without credentials) as Yarn Berry settings. Pure. A plain-http registry's host is put in
 * unsafeHttpWhitelist: the server's owner chose it, and npm uses it without asking.
 */
export function yarnSettingsFromNpmrc(npmrc: string): YarnSettings {
  const rc: Record<string, unknown> = {};
  const env: Record<string, string> = {};
  const scopes: Record<string, { npmRegistryServer: string }> = {};
  const http = new Set<string>();
  for (const raw of npmrc.split(/\r?\n/)) {
    const line = raw.trim();
    const eq = line.indexOf('=');
    if (eq <= 0 || line.startsWith('#') || line.startsWith(';')) continue;
    const key = line.slice(0, eq).trim().toLowerCase();
    const value = unquote(line.slice(eq + 1));
    if (value === '') continue;
    const scoped = /^@([^:]+):registry$/.exec(key);
    if (key === 'registry') rc.npmRegistryServer = value;
    else if (scoped) scopes[scoped[1]] = { npmRegistryServer: value };
    else if (key === 'proxy') rc.httpProxy = value;
    else if (key === 'https-proxy') rc.httpsProxy = value;
    else if (key === 'cafile') rc.caFilePath = value;
    else if (key === 'strict-ssl') rc.enableStrictSsl = value !== 'false';
    else if (key === 'maxsockets' && /^\d+$/.test(value)) rc.networkConcurrency = Number(value);
    else if (key === 'fetch-timeout' && /^\d+$/.test(value)) rc.httpTimeout = Number(value);
    else if (key === 'fetch-retries' && /^\d+$/.test(value)) rc.httpRetry = Number(value);
    else if (key === 'nodedir') env.npm_config_nodedir = value;
    else continue;
    if (key === 'registry' || scoped) {
      const host = httpHost(value);
      if (host) http.add(host);
    }
  }
  if (Object.keys(scopes).length > 0) rc.npmScopes = scopes;
  if (http.size > 0) rc.unsafeHttpWhitelist = [...http].sort();
  return { rc, env };
}

/**
 * Variables for a Yarn Berry build: the daemon's .npmrc as a .yarnrc.yml above the app (written each build), and
 * nodedir unless the build already has one. The service's own YARN_* variables still win, as variables do in Yarn.
 */
export async function yarnSettingsForBuild(ctx: BuildContext): Promise<Record<string, string>> {
  const source = daemonNpmrc(process.env);
  if (source === null) return {};
  const { text } = publicNpmrc(await fs.promises.readFile(source, 'utf8'));
  const { rc, env } = yarnSettingsFromNpmrc(text);
  if (Object.keys(rc).length > 0) {
    await writeHostFile(ctx, '.yarnrc.yml', `${JSON.stringify(rc, null, 2)}\n`);
    ctx.log(
      `Yarn Berry does not read .npmrc: the server's npm settings (${Object.keys(rc).join(', ')}) are given to it in a .yarnrc.yml above the app, below the repository's own`,
      'system',
    );
  }
  return ctx.userEnv.npm_config_nodedir === undefined ? env : {};
}
