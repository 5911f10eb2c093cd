import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { evictUnused, findNodeModules, findVenv } from '../../src/build/cache.js';
import { DataPaths } from '../../src/deploy/paths.js';
import { pruneDependencyCache } from '../../src/deploy/retention.js';
import { makeTmpDir } from '../helpers/tmp.js';

const DAY = 86_400_000;
let tmp: { dir: string; cleanup: () => void };
let cache: string;

beforeEach(() => {
  tmp = makeTmpDir('berth-cache-');
  cache = path.join(tmp.dir, 'cache');
});
afterEach(() => tmp.cleanup());

/** Sets the mtime of p (not following a symlink's target) to `daysAgo` days ago. */
function age(p: string, daysAgo: number): void {
  const t = new Date(Date.now() - daysAgo * DAY);
  fs.lutimesSync(p, t, t);
}

/** A finished node_modules entry, as storeNodeModules leaves it. */
function nodeEntry(hash: string, daysAgo: number): string {
  const entry = path.join(cache, 'node_modules', hash);
  fs.mkdirSync(path.join(entry, 'node_modules', 'dep'), { recursive: true });
  fs.writeFileSync(path.join(entry, 'node_modules', 'dep', 'index.js'), '');
  age(entry, daysAgo);
  return entry;
}

/** A published venv, as publishVenv leaves it: <hash>-<random> and the link <hash> to it. */
function venv(hash: string, daysAgo: number, linked = true): string {
  const dir = path.join(cache, 'venv', `${hash}-abcd`);
  fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
  fs.writeFileSync(path.join(dir, '.berth-ready'), '');
  if (linked) fs.symlinkSync(path.basename(dir), path.join(cache, 'venv', hash));
  age(dir, daysAgo);
  return dir;
}

const ls = (...p: string[]) => fs.readdirSync(path.join(cache, ...p)).sort();

describe('dependency cache eviction', () => {
  it('removes node_modules installs unused for the period and keeps the recent ones', async () => {
    const old = nodeEntry('a'.repeat(32), 20);
    nodeEntry('b'.repeat(32), 3);
    const removed = await evictUnused(cache, { unusedForMs: 14 * DAY, venvsInUse: new Set() });
    expect(removed).toEqual([old]);
    expect(ls('node_modules')).toEqual(['b'.repeat(32)]);
  });

  it('a cache hit counts as a use', async () => {
    const hash = 'c'.repeat(32);
    nodeEntry(hash, 20);
    expect(findNodeModules(cache, hash)).not.toBeNull();
    expect(await evictUnused(cache, { unusedForMs: 14 * DAY, venvsInUse: new Set() })).toEqual([]);

    const v = venv('d'.repeat(32), 20);
    expect(findVenv(cache, 'd'.repeat(32))).toBe(fs.realpathSync(v));
    expect(await evictUnused(cache, { unusedForMs: 14 * DAY, venvsInUse: new Set() })).toEqual([]);
  });

  it('removes an unused venv with its link, but never one a kept build runs from', async () => {
    const used = venv('e'.repeat(32), 30);
    const unused = venv('f'.repeat(32), 30);
    const orphan = venv('0'.repeat(32), 30, false); // lost its link to a concurrent build
    const removed = await evictUnused(cache, { unusedForMs: 14 * DAY, venvsInUse: new Set([used]) });
    expect(removed.sort()).toEqual([orphan, unused, path.join(cache, 'venv', 'f'.repeat(32))].sort());
    expect(ls('venv')).toEqual(['e'.repeat(32), path.basename(used)].sort());
    expect(findVenv(cache, 'f'.repeat(32))).toBeNull();
  });

  it('clears what an interrupted prune left in the trash, and links to nothing', async () => {
    fs.mkdirSync(path.join(cache, 'node_modules', '.trash-x-1234', 'node_modules'), { recursive: true });
    fs.mkdirSync(path.join(cache, 'venv'), { recursive: true });
    fs.symlinkSync('gone-1234', path.join(cache, 'venv', '1'.repeat(32)));
    await evictUnused(cache, { unusedForMs: 14 * DAY, venvsInUse: new Set() });
    expect(ls('node_modules')).toEqual([]);
    expect(ls('venv')).toEqual([]);
  });

  it('removes downloaded package managers and Node runtimes once unused, unless a kept build runs from one', async () => {
    const paths = new DataPaths(tmp.dir);
    const tool = (folder: string, name: string, daysAgo: number) => {
      const entry = path.join(paths.cache, folder, name);
      fs.mkdirSync(path.join(entry, 'bin'), { recursive: true });
      age(entry, daysAgo);
      return entry;
    };
    const usedNode = tool('runtimes', 'node-22.23.5', 30);
    const oldNode = tool('runtimes', 'node-21.7.3', 30);
    const recentPnpm = tool('package-managers', 'pnpm@9.15.9', 2);
    const oldYarn = tool('package-managers', 'yarn@1.22.22', 30);
    const usedYarn = tool('package-managers', 'yarn@4.18.1', 30);
    const artifact = paths.artifact('dep-1');
    fs.mkdirSync(path.join(artifact, 'app'), { recursive: true });
    fs.writeFileSync(
      path.join(artifact, 'artifact.json'),
      JSON.stringify({
        provider: 'node',
        kind: 'process',
        startCommand: 'yarn run start',
        staticRoot: null,
        runtimeEnv: { PATH: `${artifact}/app/node_modules/.bin:${usedYarn}/bin:${usedNode}/bin:/usr/bin` },
        notes: [],
        cache: 'miss',
      }),
    );
    const removed = await pruneDependencyCache(paths, 14 * DAY);
    expect(removed.sort()).toEqual([oldNode, oldYarn].sort());
    expect(ls('runtimes')).toEqual(['node-22.23.5']);
    expect(ls('package-managers')).toEqual([path.basename(recentPnpm), 'yarn@4.18.1']);
  });

  it('pruneDependencyCache keeps the venvs that artifacts on disk name in VIRTUAL_ENV', async () => {
    const paths = new DataPaths(tmp.dir);
    const kept = venv('2'.repeat(32), 30);
    const dropped = venv('3'.repeat(32), 30);
    const artifact = paths.artifact('dep-1');
    fs.mkdirSync(path.join(artifact, 'app'), { recursive: true });
    fs.writeFileSync(
      path.join(artifact, 'artifact.json'),
      JSON.stringify({
        provider: 'python',
        kind: 'process',
        startCommand: 'python main.py',
        staticRoot: null,
        runtimeEnv: { VIRTUAL_ENV: kept, PATH: `${kept}/bin:/usr/bin` },
        notes: [],
        cache: 'miss',
      }),
    );
    fs.mkdirSync(paths.artifact('dep-2')); // a build still running: no artifact.json yet
    const removed = await pruneDependencyCache(paths, 14 * DAY);
    expect(removed).toContain(dropped);
    expect(fs.existsSync(kept)).toBe(true);
  });
});
