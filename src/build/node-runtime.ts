/**
 * The Node.js version a build and its replicas run on, chosen like Railpack (RAILPACK_NODE_VERSION >
 * engines.node > .nvmrc > .node-version > .tool-versions) and, when the host's node does not satisfy it,
 * downloaded from the npm registry's node-<os>-<arch> packages into <cache>/runtimes/node-<version>/.
 */
import path from 'node:path';
import semver from 'semver';
import { BuildError } from '../core/errors.js';
import { readAppText } from './app-files.js';
import type { PackageJson } from './detect.js';
import { type BuildContext, basePath, run, which } from './exec.js';
import { fetchPackage, publishedVersions } from './npm-registry.js';

/** Node's newest LTS line: what an app that asks for nothing gets when the host's node is not an LTS. */
export const LTS_MAJOR = 24;

const LTS_CODENAMES: Record<string, number> = {
  argon: 4,
  boron: 6,
  carbon: 8,
  dubnium: 10,
  erbium: 12,
  fermium: 14,
  gallium: 16,
  hydrogen: 18,
  iron: 20,
  jod: 22,
  krypton: 24,
};

export interface NodeVersionRequest {
  /** A semver range (an exact version is a range too). */
  range: string;
  /** As written, for messages. */
  raw: string;
  /** Where it was written: "RAILPACK_NODE_VERSION", "engines.node", ".nvmrc", ... */
  source: string;
}

/**
 * A version as people write it in .nvmrc & co ("v22", "22.x", "lts/*", "lts/jod", "node", ">=20 <23") as a
 * semver range, or null when it is none.
 */
export function nodeRange(raw: string): string | null {
  const text = raw.trim().toLowerCase();
  if (text === '' || text === 'node' || text === 'latest' || text === 'current' || text === 'stable')
    return '*';
  if (text === 'lts' || text === 'lts/*') return `${LTS_MAJOR}.x`;
  const lts = /^lts\/([a-z-]+)$/.exec(text);
  if (lts) return LTS_CODENAMES[lts[1]] !== undefined ? `${LTS_CODENAMES[lts[1]]}.x` : null;
  const range = text.replace(/(^|[\s<>=~^|-])v(?=\d)/g, '$1');
  return semver.validRange(range) ? range : null;
}

function readFirstLine(appDir: string, rel: string): string | null {
  const text = readAppText(appDir, rel);
  return text?.split('\n').find((l) => l.trim() !== '' && !l.trim().startsWith('#')) ?? null;
}

/** The `nodejs` (or `node`) entry of asdf/mise's .tool-versions. */
export function toolVersionsNode(text: string): string | null {
  for (const line of text.split('\n')) {
    const m = /^\s*(nodejs|node)\s+(\S+)/.exec(line);
    if (m) return m[2];
  }
  return null;
}

/** The version the app asks for, in Railpack's order, or null when it asks for none. */
export function nodeVersionRequest(
  appDir: string,
  pkg: PackageJson,
  userEnv: Record<string, string>,
): NodeVersionRequest | null {
  const candidates: [string, string | null | undefined][] = [
    ['RAILPACK_NODE_VERSION', userEnv.RAILPACK_NODE_VERSION],
    ['NIXPACKS_NODE_VERSION', userEnv.NIXPACKS_NODE_VERSION],
    ['engines.node', pkg.engines.node],
    ['.nvmrc', readFirstLine(appDir, '.nvmrc')],
    ['.node-version', readFirstLine(appDir, '.node-version')],
  ];
  const toolVersions = readAppText(appDir, '.tool-versions');
  candidates.push(['.tool-versions', toolVersions === null ? null : toolVersionsNode(toolVersions)]);
  for (const [source, value] of candidates) {
    if (value === undefined || value === null || value.trim() === '') continue;
    const raw = value.trim();
    const range = nodeRange(raw);
    if (range === null) {
      throw new BuildError(
        `${source} asks for Node "${raw}", which is not a version or range; write one like 22, 22.x or 22.11.0`,
      );
    }
    return { range, raw, source };
  }
  return null;
}

export interface NodeRuntime {
  /** Exact version, without the "v". */
  version: string;
  /** Directory to put first on PATH; null: the host's node. */
  binDir: string | null;
  /** The install root (bin/, include/node) of a downloaded runtime, for node-gyp's nodedir. */
  home: string | null;
}

/** The npm package holding the official Node binary for this host. */
export function nodePackageName(): string {
  return `node-${process.platform}-${process.arch}`;
}

async function hostNodeVersion(ctx: BuildContext): Promise<string | null> {
  if (!which('node', basePath(ctx))) return null;
  const out = await run(ctx, ['node', '--version'], {
    env: { ...ctx.hostEnv, PATH: basePath(ctx) },
    capture: true,
    display: 'node --version',
  });
  return semver.valid(out.trim().replace(/^v/, ''));
}

/**
 * The host's node when it satisfies the request (or, with none, when it is an LTS line); otherwise the
 * newest matching version from the registry, downloaded and checked once and cached by exact version.
 */
export async function provideNode(
  ctx: BuildContext,
  request: NodeVersionRequest | null,
): Promise<NodeRuntime> {
  const host = await hostNodeVersion(ctx);
  const hostText = host ? `v${host}` : 'no node';
  if (request === null) {
    if (host && semver.major(host) % 2 === 0) {
      ctx.log(`node: v${host}, the host's (no version requested)`, 'system');
      return { version: host, binDir: null, home: null };
    }
  } else if (host && semver.satisfies(host, request.range)) {
    ctx.log(`node: v${host}, the host's, satisfies "${request.raw}" (${request.source})`, 'system');
    return { version: host, binDir: null, home: null };
  }

  const wanted = request ?? {
    range: `${LTS_MAJOR}.x`,
    raw: `${LTS_MAJOR} (the current LTS)`,
    source: 'default',
  };
  const name = nodePackageName();
  let versions: string[];
  try {
    versions = (await publishedVersions(ctx, name)).filter((v) => semver.valid(v) !== null);
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new BuildError(
      `${wanted.source} asks for Node ${wanted.raw}, which cannot be had: the host has ${hostText} and the registry's ${name} could not be read (${why})`,
    );
  }
  const version = semver.maxSatisfying(versions, wanted.range);
  if (!version) {
    throw new BuildError(
      `${wanted.source} asks for Node ${wanted.raw}, which cannot be had: the host has ${hostText} and the registry's newest is ${semver.maxSatisfying(versions, '*') ?? 'none'}; ask for an available version`,
    );
  }
  const dest = path.join(ctx.cacheDir, 'runtimes', `node-${version}`);
  const fetched = await fetchPackage(ctx, {
    name,
    version,
    dest,
    packageDir: '',
    finish: async (entry) => {
      // The binary must run here (CPU, libc) before any build relies on it.
      const out = await run(ctx, [path.join(entry, 'bin', 'node'), '--version'], {
        env: ctx.hostEnv,
        capture: true,
        display: `node ${version} --version`,
        asDaemon: true, // the verified download, before it is published where sandboxes see it
      });
      if (out.trim() !== `v${version}`) {
        throw new BuildError(
          `${name}@${version} reports ${out.trim()} instead of v${version}; it was discarded`,
        );
      }
    },
  });
  ctx.log(
    `node: v${version} for "${wanted.raw}" (${wanted.source})${fetched ? ', downloaded from the npm registry, integrity checked' : ', from the cache'}`,
    'system',
  );
  return { version, binDir: path.join(dest, 'bin'), home: dest };
}
