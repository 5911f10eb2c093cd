/**
 * Which package manager a Node app uses, at which version (like Railpack: packageManager, lockfiles,
 * engines, .yarnrc.yml), and getting that version onto the build's PATH without corepack: pnpm, yarn and
 * bun are downloaded from the npm registry into <cache>/package-managers/<name>@<version>/bin.
 */
import fs from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import { BuildError } from '../core/errors.js';
import { appFilePath, readAppText } from './app-files.js';
import { markUsed } from './cache.js';
import type { PackageJson } from './detect.js';
import { type BuildContext, basePath, run, which } from './exec.js';
import { type Digest, fetchPackage, fileDigest, publishedVersions } from './npm-registry.js';

export type PmName = 'npm' | 'pnpm' | 'yarn' | 'bun';

export interface PackageManager {
  name: PmName;
  /** What decided it, for the log. */
  source: string;
  /** The lockfile this package manager reads, when the app has it. */
  lockfile: string | null;
  /** The version asked for (exact or a range) and where that came from; null: the host's (npm). */
  want: { range: string; from: string } | null;
  /** The `+<algorithm>.<hex>` suffix of the packageManager field, checked against the download. */
  hash: Digest | null;
  /** Yarn 2 or later. */
  berry: boolean;
  /** .yarnrc.yml's yarnPath: a Yarn release committed to the repository, run instead of a download. */
  yarnPath: string | null;
  /** Yarn Berry's Plug'n'Play (nodeLinker other than node-modules): the install is not in node_modules. */
  pnp: boolean;
}

const LOCKFILES: Record<PmName, string[]> = {
  npm: ['package-lock.json', 'npm-shrinkwrap.json'],
  pnpm: ['pnpm-lock.yaml'],
  yarn: ['yarn.lock'],
  bun: ['bun.lock', 'bun.lockb'],
};

/** Used when nothing in the repository says which version: the newest of these lines. */
export const DEFAULT_VERSIONS = { pnpm: '10', yarnClassic: '1', yarnBerry: '4', bun: '1' } as const;

const isFile = (appDir: string, rel: string) => appFilePath(appDir, rel) !== null;
const readText = readAppText;

/** "pnpm@9.15.9+sha512.<hex>" → name, exact version, hash. Throws the BuildError the user should read. */
export function parsePackageManagerField(field: string): {
  name: PmName;
  version: string;
  hash: Digest | null;
} {
  const m = /^(npm|pnpm|yarn|bun)@([^+\s]+)(?:\+(sha\d+)\.([0-9a-fA-F]+))?$/.exec(field.trim());
  if (!m) {
    throw new BuildError(
      `package.json's packageManager "${field}" is not supported; write npm, pnpm, yarn or bun with an exact version, like "pnpm@9.15.9"`,
    );
  }
  const version = semver.valid(m[2]);
  if (!version) {
    throw new BuildError(
      `package.json's packageManager "${field}" does not give an exact version; write one like "${m[1]}@${m[1] === 'yarn' ? '4.5.0' : '9.15.9'}"`,
    );
  }
  const hash = m[3] ? { algorithm: m[3], hex: m[4].toLowerCase() } : null;
  return { name: m[1] as PmName, version, hash };
}

/** Top-level `key: value` of a YAML file (enough for .yarnrc.yml's yarnPath and nodeLinker). */
export function yamlTopLevel(text: string, key: string): string | null {
  const m = new RegExp(`^${key}:[ \\t]*(.*)$`, 'm').exec(text);
  if (!m) return null;
  const value = m[1].replace(/\s+#.*$/, '').trim();
  const unquoted = /^(['"])(.*)\1$/.exec(value);
  return (unquoted ? unquoted[2] : value) || null;
}

/** The Yarn major a yarn.lock was written by: 1 for classic, 2/3/4 from Berry's __metadata version. */
export function yarnLockMajor(text: string): number | null {
  const meta = /^__metadata:\s*\n\s+version:\s*["']?(\d+)/m.exec(text);
  if (meta) {
    const v = Number(meta[1]);
    return v >= 8 ? 4 : v >= 6 ? 3 : 2;
  }
  return /^# yarn lockfile v1/m.test(text) ? 1 : null;
}

/** The pnpm major a pnpm-lock.yaml was written by (its lockfileVersion). */
export function pnpmLockMajor(text: string): number | null {
  const m = /^lockfileVersion:\s*['"]?(\d+)(?:\.(\d+))?/m.exec(text);
  if (!m) return null;
  const major = Number(m[1]);
  const minor = Number(m[2] ?? 0);
  if (major >= 9) return 9;
  if (major >= 6) return 8;
  if (major === 5) return minor >= 4 ? 7 : 6;
  return null;
}

/** Decides the package manager and the version the repository asks for. Reads files only. */
export function pickPackageManager(appDir: string, pkg: PackageJson): PackageManager {
  const lockfileOf = (name: PmName) => LOCKFILES[name].find((f) => isFile(appDir, f)) ?? null;
  const yarnrc = readText(appDir, '.yarnrc.yml');
  const yarnPath = yarnrc !== null ? yamlTopLevel(yarnrc, 'yarnPath') : null;
  const linker = yarnrc !== null ? yamlTopLevel(yarnrc, 'nodeLinker') : null;
  const make = (name: PmName, source: string, field?: ReturnType<typeof parsePackageManagerField>) => {
    const lockfile = lockfileOf(name);
    const pm: PackageManager = {
      name,
      source,
      lockfile,
      want: null,
      hash: field?.hash ?? null,
      berry: false,
      yarnPath: null,
      pnp: false,
    };
    const engine = pkg.engines[name]?.trim();
    const lockText = lockfile && name !== 'bun' ? readText(appDir, lockfile) : null;
    if (name === 'yarn') {
      const lockMajor = lockText !== null ? yarnLockMajor(lockText) : null;
      pm.berry = field
        ? semver.major(field.version) >= 2
        : yarnrc !== null || (lockMajor !== null && lockMajor >= 2);
      if (pm.berry && yarnPath) pm.yarnPath = yarnPath;
      pm.pnp = pm.berry && linker !== 'node-modules';
      if (field) pm.want = { range: field.version, from: 'packageManager' };
      else if (pm.yarnPath) pm.want = null;
      else if (engine) pm.want = { range: engine, from: 'engines.yarn' };
      else if (lockMajor !== null) pm.want = { range: String(lockMajor), from: `${lockfile}'s format` };
      else
        pm.want = pm.berry
          ? { range: DEFAULT_VERSIONS.yarnBerry, from: 'default for .yarnrc.yml' }
          : { range: DEFAULT_VERSIONS.yarnClassic, from: 'default' };
    } else if (name === 'pnpm') {
      const lockMajor = lockText !== null ? pnpmLockMajor(lockText) : null;
      if (field) pm.want = { range: field.version, from: 'packageManager' };
      else if (engine) pm.want = { range: engine, from: 'engines.pnpm' };
      else if (lockMajor !== null)
        pm.want = { range: String(lockMajor), from: `${lockfile}'s lockfileVersion` };
      else pm.want = { range: DEFAULT_VERSIONS.pnpm, from: 'default' };
    } else if (name === 'bun') {
      if (field) pm.want = { range: field.version, from: 'packageManager' };
      else if (engine) pm.want = { range: engine, from: 'engines.bun' };
      else pm.want = { range: DEFAULT_VERSIONS.bun, from: 'default' };
    }
    return pm;
  };

  if (pkg.packageManager) {
    const field = parsePackageManagerField(pkg.packageManager);
    return make(field.name, `packageManager "${pkg.packageManager}"`, field);
  }
  if (lockfileOf('pnpm')) return make('pnpm', 'pnpm-lock.yaml');
  const bunLock = lockfileOf('bun');
  if (bunLock) return make('bun', bunLock);
  if (yarnrc !== null) return make('yarn', '.yarnrc.yml');
  if (lockfileOf('yarn')) return make('yarn', 'yarn.lock');
  const npmLock = lockfileOf('npm');
  if (npmLock) return make('npm', npmLock);
  for (const name of ['pnpm', 'bun', 'yarn'] as const) {
    if (pkg.engines[name]) return make(name, `engines.${name}`);
  }
  return make('npm', 'no lockfile, default');
}

/** The npm package that holds a package manager's release. */
export function registryPackage(pm: Pick<PackageManager, 'name'>, version: string): string {
  switch (pm.name) {
    case 'yarn':
      return semver.major(version) >= 2 ? '@yarnpkg/cli-dist' : 'yarn';
    case 'bun':
      return `@oven/bun-${process.platform}-${process.arch === 'x64' ? 'x64' : process.arch}`;
    default:
      return pm.name;
  }
}

export interface ProvidedPackageManager {
  /** The command that runs it (on PATH once binDir is prepended). */
  command: string;
  /** Directory to put first on PATH for builds and replicas; null: the host's own. */
  binDir: string | null;
  /** Version in use, when Berth chose it. */
  version: string | null;
}

const DIGEST_FILE = '.berth-digests.json';
const DIGEST_ALGORITHMS = ['sha1', 'sha224', 'sha256', 'sha512'];

/** Digests of the tarball and of each bin file, so a packageManager hash can be checked on later cache hits. */
async function recordDigests(entryDir: string, files: string[]): Promise<void> {
  const out: Record<string, string[]> = {};
  for (const algorithm of DIGEST_ALGORITHMS) {
    out[algorithm] = await Promise.all(files.map((f) => fileDigest(f, algorithm)));
  }
  await fs.promises.writeFile(path.join(entryDir, DIGEST_FILE), JSON.stringify(out));
}

/**
 * The packageManager hash is corepack's: of the tarball for pnpm and Yarn 1, of the bin file for Yarn Berry
 * (corepack fetches that one file from Yarn's own site). Either matching is the release it names.
 */
function checkHash(entryDir: string, spec: string, hash: Digest): void {
  let digests: Record<string, string[]> = {};
  try {
    digests = JSON.parse(fs.readFileSync(path.join(entryDir, DIGEST_FILE), 'utf8')) as Record<
      string,
      string[]
    >;
  } catch {
    /* an entry without digests cannot be checked: treated as a mismatch below */
  }
  const known = digests[hash.algorithm];
  if (!known) {
    throw new BuildError(
      `package.json's packageManager pins ${spec} with a ${hash.algorithm} hash, which Berth cannot check; use sha512 (as corepack writes it)`,
    );
  }
  if (!known.includes(hash.hex)) {
    throw new BuildError(
      `package.json's packageManager pins ${spec} with ${hash.algorithm} ${hash.hex.slice(0, 16)}…, but the registry's ${spec} hashes to ${known[0].slice(0, 16)}…; fix or remove the hash`,
    );
  }
}

/** Symlinks bin/<name> to each of the package's bin entries (a string or a map in package.json). */
async function linkBins(entryDir: string, pkgDir: string, fallbackName: string): Promise<string[]> {
  const manifest = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as {
    bin?: unknown;
  };
  const bins: Record<string, string> =
    typeof manifest.bin === 'string'
      ? { [fallbackName]: manifest.bin }
      : manifest.bin && typeof manifest.bin === 'object'
        ? (manifest.bin as Record<string, string>)
        : // bun's platform packages declare no bin; the binary is bin/bun.
          { [fallbackName]: `bin/${fallbackName}` };
  const binDir = path.join(entryDir, 'bin');
  await fs.promises.mkdir(binDir, { recursive: true });
  const targets: string[] = [];
  for (const [name, rel] of Object.entries(bins)) {
    if (typeof rel !== 'string' || name.includes('/')) continue;
    const target = path.resolve(pkgDir, rel);
    if (!target.startsWith(pkgDir + path.sep) || !fs.existsSync(target)) continue;
    await fs.promises.chmod(target, 0o755);
    await fs.promises.symlink(path.relative(binDir, target), path.join(binDir, name));
    if (!targets.includes(target)) targets.push(target);
  }
  return targets;
}

async function resolveVersion(ctx: BuildContext, pm: PackageManager): Promise<string> {
  const want = pm.want as NonNullable<PackageManager['want']>;
  const exact = semver.valid(want.range);
  if (exact) return exact;
  if (!semver.validRange(want.range)) {
    throw new BuildError(
      `${want.from} asks for ${pm.name} "${want.range}", which is not a version or range; write one like "${pm.name === 'yarn' ? '4.x' : '9.x'}"`,
    );
  }
  // Yarn 1 and Yarn 2+ are different packages: the range is matched against the family the repo uses.
  const name = pm.name === 'yarn' ? (pm.berry ? '@yarnpkg/cli-dist' : 'yarn') : registryPackage(pm, '0.0.0');
  const versions = (await publishedVersions(ctx, name)).filter((v) => semver.valid(v) !== null);
  const found = semver.maxSatisfying(versions, want.range);
  if (!found) {
    const newest = semver.maxSatisfying(versions, '*');
    throw new BuildError(
      `${want.from} asks for ${pm.name} ${want.range}, which the registry does not have (its newest is ${newest ?? 'none'}); ask for an existing version`,
    );
  }
  return found;
}

/** A committed Yarn release (yarnPath): copied into the cache by content, so replicas find it too. */
async function provideYarnPath(ctx: BuildContext, rel: string): Promise<ProvidedPackageManager> {
  const file = appFilePath(ctx.appDir, rel);
  if (file === null) {
    throw new BuildError(
      `.yarnrc.yml's yarnPath "${rel}" is not a file in the repository; commit that Yarn release or remove yarnPath`,
    );
  }
  const digest = (await fileDigest(file, 'sha256')).slice(0, 16);
  const dest = path.join(ctx.cacheDir, 'package-managers', `yarn-release-${digest}`);
  if (fs.existsSync(dest)) markUsed(dest);
  else {
    await fs.promises.mkdir(path.dirname(dest), { recursive: true });
    const tmp = await fs.promises.mkdtemp(`${dest}.tmp-`);
    try {
      await fs.promises.mkdir(path.join(tmp, 'bin'));
      await fs.promises.copyFile(file, path.join(tmp, 'yarn.cjs'));
      await fs.promises.chmod(path.join(tmp, 'yarn.cjs'), 0o755);
      await fs.promises.symlink('../yarn.cjs', path.join(tmp, 'bin', 'yarn'));
      await fs.promises.symlink('../yarn.cjs', path.join(tmp, 'bin', 'yarnpkg'));
      await fs.promises.chmod(tmp, 0o755);
      await fs.promises.rename(tmp, dest).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST' && err.code !== 'ENOTEMPTY') throw err;
      });
    } finally {
      await fs.promises.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    }
  }
  ctx.log(`yarn: the release committed at ${rel} (.yarnrc.yml yarnPath)`, 'system');
  return { command: 'yarn', binDir: path.join(dest, 'bin'), version: null };
}

/**
 * Puts the package manager the repository asks for within reach: npm is the host's; pnpm, yarn and bun
 * are downloaded once per version into the cache (bun only when the host has none). Never via corepack.
 */
export async function providePackageManager(
  ctx: BuildContext,
  pm: PackageManager,
): Promise<ProvidedPackageManager> {
  if (pm.name === 'npm') {
    if (!which('npm', basePath(ctx))) {
      throw new BuildError(
        'This app builds with npm, but npm is not installed on this host; install Node.js with npm',
      );
    }
    return { command: 'npm', binDir: null, version: null };
  }
  if (pm.yarnPath) return provideYarnPath(ctx, pm.yarnPath);
  if (pm.name === 'bun' && !pm.hash && which('bun', basePath(ctx))) {
    return { command: 'bun', binDir: null, version: null };
  }

  let version = '';
  let dest = '';
  let fetched: boolean;
  try {
    version = await resolveVersion(ctx, pm);
    const name = registryPackage(pm, version);
    dest = path.join(ctx.cacheDir, 'package-managers', `${pm.name}@${version}`);
    fetched = await fetchPackage(ctx, {
      name,
      version,
      dest,
      packageDir: 'package',
      finish: async (entry, tarball) => {
        const bins = await linkBins(entry, path.join(entry, 'package'), pm.name);
        if (!fs.existsSync(path.join(entry, 'bin', pm.name))) {
          throw new BuildError(`${name}@${version} has no "${pm.name}" command; ask for another version`);
        }
        await recordDigests(entry, [tarball, ...bins]);
        if (pm.name === 'bun') {
          // A native binary: make sure it runs on this host's CPU and libc before anything relies on it.
          await run(ctx, [path.join(entry, 'bin', 'bun'), '--version'], {
            env: ctx.hostEnv,
            capture: true,
            asDaemon: true,
          });
        }
      },
    });
  } catch (err) {
    if (pm.name === 'bun' && err instanceof BuildError && !ctx.signal.aborted) {
      throw new BuildError(
        `This app uses bun (from ${pm.source}), but no bun binary can be had: none is installed on this host and the download failed (${err.message.split('\n')[0]}); install bun on the host, or remove ${pm.lockfile ?? 'the bun setting'} to build with npm`,
      );
    }
    throw err;
  }
  const spec = `${pm.name}@${version}`;
  if (pm.hash) checkHash(dest, spec, pm.hash);
  ctx.log(
    `${spec} (${pm.want?.from})${fetched ? ': downloaded from the npm registry, integrity checked' : ': from the cache'}`,
    'system',
  );
  return { command: pm.name, binDir: path.join(dest, 'bin'), version };
}
