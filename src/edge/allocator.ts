/**
 * The edge process's malloc: jemalloc (Debian's libjemalloc2) when it is installed, through LD_PRELOAD.
 *
 * Why: Node allocates 64 KiB for every socket read and shrinks it to the bytes read; under load the edge makes
 * tens of thousands of these per second, and glibc's heap keeps the holes they leave between collections. Measured
 * after the same load: the edge's `[heap]` anywhere from 4 to 70 MB with glibc, depending on how allocations
 * interleaved (idle RSS 63–115 MB); with jemalloc, whose unused pages are returned after a second, ~61 MB
 * every time, at the same throughput. Without the library the edge runs on glibc as before.
 *
 * MALLOC_CONF (unless set): a background thread purges unused pages, since jemalloc otherwise purges only inside
 * allocation calls and an idle edge makes few (measured: 91 MB kept idle after the bench's load without it);
 * pages go back after 1 s instead of 10 s; two arenas, as the edge is one JS thread plus a few helpers.
 *
 * Interface: `edgeEnv(env)` — the environment to spawn an edge with; `BERTH_EDGE_JEMALLOC=0` opts out.
 */

import fs from 'node:fs';
import os from 'node:os';

export const JEMALLOC_CONF = 'background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,narenas:2';

const MULTIARCH: Record<string, string> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

/** Path of an installed libjemalloc.so.2, or null. */
export function findJemalloc(): string | null {
  if (os.platform() !== 'linux') return null;
  const triple = MULTIARCH[os.arch()];
  const candidates = [
    ...(triple === undefined ? [] : [`/usr/lib/${triple}/libjemalloc.so.2`]),
    '/usr/lib64/libjemalloc.so.2',
    '/usr/lib/libjemalloc.so.2',
  ];
  for (const p of candidates) if (fs.existsSync(p)) return p;
  return null;
}

/** `env` plus LD_PRELOAD of jemalloc when installed and not opted out. */
export function edgeEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env.BERTH_EDGE_JEMALLOC === '0') return env;
  const lib = findJemalloc();
  if (lib === null) return env;
  const preload = env.LD_PRELOAD ? `${lib}:${env.LD_PRELOAD}` : lib;
  return { ...env, LD_PRELOAD: preload, MALLOC_CONF: env.MALLOC_CONF ?? JEMALLOC_CONF };
}
