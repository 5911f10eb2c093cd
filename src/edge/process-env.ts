/**
 * The environment edge processes (the built-in edge, HAProxy and its helper edge) are spawned with: what they
 * need to run, never the daemon's whole environment (BERTH_MASTER_KEY, BERTH_TOKEN, cloud credentials...).
 */
import { edgeEnv } from './allocator.js';

/** Finding programs and the locale; nothing an edge could leak. */
const BASE_KEYS = ['PATH', 'LANG', 'LANGUAGE', 'LC_ALL', 'LC_CTYPE', 'LC_MESSAGES', 'TZ'];
/** The allocator's inputs (allocator.ts): an operator's own preload and malloc tuning, and its opt-out. */
const ALLOCATOR_KEYS = ['LD_PRELOAD', 'MALLOC_CONF', 'BERTH_EDGE_JEMALLOC'];

function pick(env: NodeJS.ProcessEnv, keys: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) {
    const v = env[k];
    if (v !== undefined) out[k] = v;
  }
  if (!out.PATH) out.PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  return out;
}

/** A built-in edge process (Node): PATH, locale, and jemalloc through LD_PRELOAD when installed. */
export function builtinEdgeEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(edgeEnv(pick(env, [...BASE_KEYS, ...ALLOCATOR_KEYS])))) {
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** HAProxy's master and workers: PATH and locale. */
export function haproxyEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  return pick(env, BASE_KEYS);
}
