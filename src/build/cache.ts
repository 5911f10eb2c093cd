/**
 * The dependency cache under req.cacheDir:
 *
 *   <cacheDir>/node_modules/<hash>/node_modules   a finished install, restored into apps with hardlinks
 *   <cacheDir>/venv/<hash>                        symlink to <hash>-<random>, a finished venv
 *   <cacheDir>/npm, pip, pnpm-store, yarn, ...    package managers' own download caches (unsandboxed builds;
 *                                                 a sandboxed build has its own, see BuildContext.downloadCacheDir)
 *   <cacheDir>/package-managers, runtimes          downloaded pnpm/yarn/bun and Node (package-manager.ts,
 *                                                  node-runtime.ts), each <entry>/bin on artifacts' PATH
 *
 * Sandboxed builds run as the service's own uid, and an install runs the app's code: their entries are keyed
 * by that uid (cacheOwner), so one tenant's install never reaches another's build. Before an install becomes
 * an entry the daemon takes it over (sealTree: root-owned, no group/other write, no set-id bits) and the
 * artifact links to that sealed copy; a venv is sealed before it is published. A replica that is compromised
 * later therefore cannot change what the service's next builds install either.
 *
 * Entries only ever appear complete: node_modules are linked into a temp dir and renamed into place,
 * venvs are published by atomically renaming a symlink. Concurrent builds of the same hash may both
 * install; the last to publish wins and nobody sees half an entry.
 *
 * Caveats, kept simple on purpose:
 * - install scripts (preinstall/postinstall) do not run again on a hit. Their effects inside
 *   node_modules are in the cache; effects elsewhere in the app are not.
 * - restored files are hardlinks to the cache: a build step that rewrites a file inside node_modules
 *   in place would change the cached copy too (new files, like node_modules/.cache, are fine).
 * - eviction (evictUnused) goes by last use: a hit touches its entry's mtime. A node_modules entry can go at
 *   any time once unused (artifacts hold hardlinks, not references); a venv, a package manager or a Node
 *   runtime only when no artifact on disk runs from it (their PATH / VIRTUAL_ENV point into the cache).
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type BuildContext, run } from './exec.js';

/** sha256 (first 32 hex chars) of a JSON-serialisable description of an install. */
export function cacheKey(parts: Record<string, unknown>): string {
  return createHash('sha256')
    .update(JSON.stringify({ v: 1, ...parts }))
    .digest('hex')
    .slice(0, 32);
}

/**
 * The cache-key part that keeps a sandboxed user's installs its own. An install runs the app's code (root
 * package scripts, setup.py, NODE_OPTIONS or PIP_INDEX_URL among its variables), so what it produces is only
 * as trustworthy as the service that ran it: shared across services, one tenant could plant code in another's
 * build under the same lockfile. Unsandboxed builds all run as the daemon anyway and keep sharing.
 */
export function cacheOwner(ctx: BuildContext): { owner?: number } {
  return ctx.sandbox ? { owner: ctx.sandbox.user.uid } : {};
}

export function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

function isErrno(err: unknown, ...codes: string[]): boolean {
  return err instanceof Error && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

/**
 * Copies directory src to dest (which must not exist) with hardlinks (`cp -al`), falling back to a
 * real copy when hardlinks are impossible (another filesystem).
 */
export async function linkTree(ctx: BuildContext, src: string, dest: string): Promise<void> {
  try {
    await run(ctx, ['cp', '-al', src, dest], { env: ctx.hostEnv, display: 'cp -al', asDaemon: true });
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    ctx.log(`hardlinking failed, copying instead (${firstLine(err)})`, 'system');
    await fs.promises.rm(dest, { recursive: true, force: true });
    await run(ctx, ['cp', '-a', src, dest], { env: ctx.hostEnv, display: 'cp -a', asDaemon: true });
  }
}

/** argv that makes every entry of dir (symlinks themselves, never their targets) owned by uid:gid. */
export function chownTreeArgv(dir: string, uid: number, gid: number): string[] {
  return ['chown', '-R', '-P', '-h', `${uid}:${gid}`, '--', dir];
}

/** argv that removes group/other write and the set-id bits below dir (symlinks are not followed). */
export function stripWriteArgv(dir: string): string[] {
  return ['chmod', '-R', 'go-w,ug-s', '--', dir];
}

/** argv that makes the directories below dir (not its files) owned by uid:gid. */
export function chownDirsArgv(dir: string, uid: number, gid: number): string[] {
  return ['find', dir, '-type', 'd', '-exec', 'chown', '-h', `${uid}:${gid}`, '{}', '+'];
}

/**
 * Makes a tree a sandboxed build wrote the daemon's: owned by root, writable by nobody else. Run once no
 * process of the build is left (each command's sandbox dies with it).
 */
export async function sealTree(ctx: BuildContext, dir: string): Promise<void> {
  const opts = { env: ctx.hostEnv, asDaemon: true, display: `seal ${path.basename(dir)}` } as const;
  await run(ctx, chownTreeArgv(dir, 0, 0), opts);
  await run(ctx, stripWriteArgv(dir), opts);
}

/** Hands a tree to the build's user (sandboxed builds; a no-op otherwise). */
export async function giveTree(ctx: BuildContext, dir: string): Promise<void> {
  if (!ctx.sandbox) return;
  const { uid, gid } = ctx.sandbox.user;
  await run(ctx, chownTreeArgv(dir, uid, gid), { env: ctx.hostEnv, asDaemon: true, display: 'chown' });
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}

// ---- node_modules ----

function nodeModulesEntry(cacheDir: string, hash: string): string {
  return path.join(cacheDir, 'node_modules', hash);
}

/** The cached node_modules for hash (marked as used now), or null on a miss. */
export function findNodeModules(cacheDir: string, hash: string): string | null {
  const dir = path.join(nodeModulesEntry(cacheDir, hash), 'node_modules');
  try {
    if (!fs.statSync(dir).isDirectory()) return null;
    markUsed(nodeModulesEntry(cacheDir, hash));
    return dir;
  } catch {
    return null;
  }
}

/** Last use is the entry's mtime (what evictUnused reads); a failure only makes it look older. */
export function markUsed(entry: string): void {
  const now = new Date();
  try {
    fs.utimesSync(entry, now, now);
  } catch {
    /* read-only or gone: eviction may take it earlier, a later build installs again */
  }
}

/**
 * Replaces appDir/node_modules with hardlinks to the cached install. A sandboxed build's user gets its
 * directories (so tools can add files such as node_modules/.cache) but not the files: they are the cache's.
 */
export async function restoreNodeModules(ctx: BuildContext, cached: string): Promise<void> {
  const dest = path.join(ctx.appDir, 'node_modules');
  await fs.promises.rm(dest, { recursive: true, force: true });
  await linkTree(ctx, cached, dest);
  if (ctx.sandbox) {
    const { uid, gid } = ctx.sandbox.user;
    await run(ctx, chownDirsArgv(dest, uid, gid), { env: ctx.hostEnv, asDaemon: true, display: 'chown' });
  }
}

/**
 * Publishes appDir/node_modules as the cache entry for hash: link into a temp dir, then rename.
 * Best effort: a failure is logged and the build goes on (only an abort is rethrown).
 */
export async function storeNodeModules(ctx: BuildContext, hash: string): Promise<void> {
  const root = path.join(ctx.cacheDir, 'node_modules');
  const final = nodeModulesEntry(ctx.cacheDir, hash);
  let tmp: string | null = null;
  try {
    await fs.promises.mkdir(root, { recursive: true });
    tmp = await fs.promises.mkdtemp(path.join(root, `.tmp-${hash}-`));
    await fs.promises.chmod(tmp, 0o755);
    const src = path.join(ctx.appDir, 'node_modules');
    const staged = path.join(tmp, 'node_modules');
    if (!entryExists(src)) await fs.promises.mkdir(staged);
    else if (ctx.sandbox) {
      // The build's user wrote these files: the cache gets them sealed, and the app links to the sealed copy.
      // Its node_modules may be a symlink it planted: sealing that would chmod whatever it points at, as root.
      if (!fs.lstatSync(src).isDirectory()) throw new Error('node_modules is not a directory');
      await moveOrCopy(ctx, src, staged);
      await sealTree(ctx, staged);
    } else await linkTree(ctx, src, staged);
    let published = true;
    try {
      await fs.promises.rename(tmp, final);
      tmp = null;
    } catch (err) {
      if (!isErrno(err, 'EEXIST', 'ENOTEMPTY')) throw err;
      // Another build of the same dependencies published first; theirs is as good as ours.
      published = false;
    }
    if (ctx.sandbox && !entryExists(src)) await restoreNodeModules(ctx, path.join(final, 'node_modules'));
    if (published) ctx.log(`saved node_modules to the cache (${hash.slice(0, 12)})`, 'system');
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    ctx.log(`could not save node_modules to the cache: ${firstLine(err)}`, 'system');
    // A sandboxed install moved out of the app must come back, or the app loses its dependencies.
    const src = path.join(ctx.appDir, 'node_modules');
    const staged = tmp ? path.join(tmp, 'node_modules') : null;
    if (ctx.sandbox && !entryExists(src)) {
      if (staged && fs.existsSync(staged)) {
        await fs.promises.rename(staged, src);
        await giveTree(ctx, src);
      } else await restoreNodeModules(ctx, path.join(final, 'node_modules'));
    }
  } finally {
    if (tmp) await fs.promises.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** True when p exists, as a symlink too (existsSync follows links). */
function entryExists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Renames src to dest (same filesystem), else copies it. */
async function moveOrCopy(ctx: BuildContext, src: string, dest: string): Promise<void> {
  try {
    await fs.promises.rename(src, dest);
  } catch (err) {
    if (!isErrno(err, 'EXDEV')) throw err;
    await run(ctx, ['cp', '-a', src, dest], { env: ctx.hostEnv, display: 'cp -a', asDaemon: true });
    await fs.promises.rm(src, { recursive: true, force: true });
  }
}

// ---- Python venvs ----

/** Marker written into a venv once it is complete. */
const VENV_READY = '.berth-ready';

function venvLink(cacheDir: string, hash: string): string {
  return path.join(cacheDir, 'venv', hash);
}

/** The real path of the cached venv for hash (marked as used now), or null on a miss (or a broken entry). */
export function findVenv(cacheDir: string, hash: string): string | null {
  try {
    const real = fs.realpathSync(venvLink(cacheDir, hash));
    if (!fs.existsSync(path.join(real, VENV_READY))) return null;
    markUsed(real);
    return real;
  } catch {
    return null;
  }
}

/** A fresh, unique directory path (not yet created) to build the venv for hash in. */
export function newVenvDir(cacheDir: string, hash: string): string {
  return path.join(cacheDir, 'venv', `${hash}-${randomBytes(4).toString('hex')}`);
}

/** Marks realDir complete and points <cacheDir>/venv/<hash> at it (atomic symlink rename). */
export async function publishVenv(ctx: BuildContext, hash: string, realDir: string): Promise<void> {
  await fs.promises.writeFile(path.join(realDir, VENV_READY), `${new Date().toISOString()}\n`);
  const link = venvLink(ctx.cacheDir, hash);
  const tmpLink = `${link}.link-${randomBytes(4).toString('hex')}`;
  try {
    await fs.promises.symlink(path.basename(realDir), tmpLink);
    await fs.promises.rename(tmpLink, link);
    ctx.log(`saved the virtualenv to the cache (${hash.slice(0, 12)})`, 'system');
  } catch (err) {
    await fs.promises.rm(tmpLink, { force: true }).catch(() => undefined);
    // The venv itself is complete and this artifact uses it either way.
    ctx.log(`could not register the virtualenv in the cache: ${firstLine(err)}`, 'system');
  }
}

// ---- eviction ----

/** Prefix of entries being deleted. */
const TRASH = '.trash-';

export interface EvictOptions {
  /** Entries not used for this long go. */
  unusedForMs: number;
  /** Real paths of venvs that artifacts on disk run from: kept whatever their age. */
  venvsInUse: ReadonlySet<string>;
  /** PATH entries of artifacts on disk: package managers and Node runtimes whose bin/ is among them stay. */
  binDirsInUse?: ReadonlySet<string>;
}

/** Cache folders of downloaded tools, one entry per version, each with a bin/ that artifacts put on PATH. */
const TOOL_DIRS = ['package-managers', 'runtimes'];

/**
 * Removes dependency installs not used for `unusedForMs` (node_modules entries, venvs no artifact runs from,
 * and what interrupted builds left half-made), so the cache does not grow with every lockfile change.
 * Returns the removed paths. The package managers' own download caches (npm, pip, ...) are left alone.
 */
export async function evictUnused(cacheDir: string, opts: EvictOptions): Promise<string[]> {
  const cutoff = Date.now() - opts.unusedForMs;
  const stale = (p: string): boolean => {
    try {
      return fs.lstatSync(p).mtimeMs < cutoff;
    } catch {
      return false;
    }
  };
  const removed: string[] = [];
  // An entry is first renamed out of the way (atomic), then deleted: a prune cut short never leaves a
  // half-deleted install where a build would find it. Trash of an earlier cut goes first.
  const remove = async (p: string) => {
    const trash = path.join(path.dirname(p), `${TRASH}${path.basename(p)}-${randomBytes(4).toString('hex')}`);
    try {
      await fs.promises.rename(p, trash);
    } catch {
      return; // gone meanwhile
    }
    removed.push(p);
    await fs.promises.rm(trash, { recursive: true, force: true });
  };
  const unlink = async (p: string) => {
    await fs.promises.rm(p, { force: true });
    removed.push(p);
  };

  const modules = path.join(cacheDir, 'node_modules');
  for (const name of listDir(modules)) {
    const entry = path.join(modules, name);
    if (name.startsWith(TRASH)) await fs.promises.rm(entry, { recursive: true, force: true });
    else if (stale(entry)) await remove(entry);
  }

  // Downloaded tools: an entry goes once unused and no kept artifact's PATH names its bin/. A temp dir of a
  // download that never finished (<entry>.tmp-*) goes once old.
  const binsInUse = opts.binDirsInUse ?? new Set<string>();
  for (const folder of TOOL_DIRS) {
    const dir = path.join(cacheDir, folder);
    for (const name of listDir(dir)) {
      const entry = path.join(dir, name);
      if (name.startsWith(TRASH)) await fs.promises.rm(entry, { recursive: true, force: true });
      else if (!binsInUse.has(path.join(entry, 'bin')) && stale(entry)) await remove(entry);
    }
  }

  // A venv is a directory <hash>-<random>, published by the symlink <hash>; a directory without a link lost it to
  // a concurrent build of the same hash, or is a build that never finished. Either goes with its links once
  // unused, unless an artifact runs from it.
  const venvs = path.join(cacheDir, 'venv');
  const links = new Map<string, string[]>(); // real dir -> links to it
  const dirs: string[] = [];
  for (const name of listDir(venvs)) {
    const p = path.join(venvs, name);
    const kind = entryKind(p);
    if (name.startsWith(TRASH)) await fs.promises.rm(p, { recursive: true, force: true });
    else if (kind === 'dir') dirs.push(p);
    else if (kind === 'link') {
      const real = realPath(p);
      if (real === null)
        await unlink(p); // points at nothing
      else links.set(real, [...(links.get(real) ?? []), p]);
    }
  }
  // Compared as real paths: artifacts record findVenv's real path or the path a new venv was built at.
  const inUse = new Set([...opts.venvsInUse].map((v) => realPath(v) ?? v));
  for (const dir of dirs) {
    const real = realPath(dir) ?? dir;
    if (inUse.has(real) || !stale(dir)) continue;
    for (const link of links.get(real) ?? []) await unlink(link); // first: findVenv stops finding it
    await remove(dir);
  }
  return removed;
}

function entryKind(p: string): 'dir' | 'link' | null {
  try {
    const st = fs.lstatSync(p);
    return st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : null;
  } catch {
    return null;
  }
}

function realPath(p: string): string | null {
  try {
    return fs.realpathSync(p);
  } catch {
    return null;
  }
}

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
