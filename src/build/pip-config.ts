/**
 * The daemon's pip settings for sandboxed builds, which run with a HOME of their own: its user-level pip.conf
 * (a private index or mirror, say) is copied into the build user's cache and named by PIP_CONFIG_FILE, and its
 * PIP_* variables are passed on. The global /etc configuration is visible in the sandbox as it is.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { BuildContext } from './exec.js';
import { writeHostFile } from './host-files.js';

/** The daemon's user-level pip.conf, as pip looks for it (XDG first, then the legacy ~/.pip). */
export function daemonPipConfig(env: NodeJS.ProcessEnv): string | null {
  const home = env.HOME;
  const candidates = [
    env.PIP_CONFIG_FILE,
    path.join(env.XDG_CONFIG_HOME || (home ? path.join(home, '.config') : ''), 'pip', 'pip.conf'),
    home ? path.join(home, '.pip', 'pip.conf') : undefined,
  ];
  for (const file of candidates) {
    if (!file || !path.isAbsolute(file)) continue;
    try {
      if (fs.statSync(file).isFile()) return file;
    } catch {
      /* not there */
    }
  }
  return null;
}

/** The daemon's PIP_* variables (PIP_CONFIG_FILE aside: the copy below replaces it). */
export function daemonPipVariables(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith('PIP_') && k !== 'PIP_CONFIG_FILE' && v !== undefined) out[k] = v;
  }
  return out;
}

/** Variables that give a build's pip the daemon's settings; empty when the build is not sandboxed. */
export async function pipSettingsForBuild(ctx: BuildContext): Promise<Record<string, string>> {
  if (!ctx.sandbox) return {};
  const vars = daemonPipVariables(process.env);
  const source = daemonPipConfig(process.env);
  if (source === null) return vars;
  const copy = await writeHostFile(ctx, 'pip.conf', await fs.promises.readFile(source, 'utf8'));
  return { ...vars, PIP_CONFIG_FILE: copy };
}
