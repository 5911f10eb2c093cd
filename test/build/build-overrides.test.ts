import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  parseNixpacksToml,
  parseRailpackJson,
  readBuildOverrides,
  withOverrides,
} from '../../src/build/build-overrides.js';
import { defaultServiceConfig } from '../../src/core/config/index.js';
import type { ServiceConfig, ValueOrigin } from '../../src/core/model.js';
import { makeTmpDir } from '../helpers/tmp.js';

const RP = { source: 'file', file: 'railpack.json' } as const;
const NIX = { source: 'file', file: 'nixpacks.toml' } as const;
type Loaded = { config: ServiceConfig; origins: Record<string, ValueOrigin> };

describe('railpack.json', () => {
  it('reads provider, packages, steps.install/build commands and deploy.startCommand', () => {
    const r = parseRailpackJson(
      JSON.stringify({
        $schema: 'https://schema.railpack.com',
        provider: 'Node',
        packages: { node: '22', python: '3.12' },
        steps: {
          install: { commands: ['npm ci --omit=optional'] },
          build: { commands: ['npm run build', { cmd: 'node scripts/post.js', customName: 'post' }] },
        },
        deploy: { startCommand: 'node dist/main.js' },
      }),
      'railpack.json',
    );
    expect(r.provider).toBe('node');
    expect(r.env).toEqual({ RAILPACK_NODE_VERSION: '22', RAILPACK_PYTHON_VERSION: '3.12' });
    expect(r.layer).toEqual({
      install: { command: 'npm ci --omit=optional', from: 'railpack.json steps.install', origin: RP },
      build: {
        command: 'npm run build && node scripts/post.js',
        from: 'railpack.json steps.build',
        origin: RP,
      },
      start: { command: 'node dist/main.js', from: 'railpack.json deploy.startCommand', origin: RP },
    });
    expect(r.warnings).toEqual([]);
  });

  it('names every setting it cannot honour', () => {
    const r = parseRailpackJson(
      JSON.stringify({
        packages: { ffmpeg: '7' },
        caches: { c: { directory: '/x' } },
        secrets: ['TOKEN'],
        buildAptPackages: ['git'],
        steps: {
          build: { commands: [{ src: 'a', dest: 'b' }], caches: ['c'] },
          migrate: { commands: ['x'] },
        },
        deploy: { startCommand: 'x', aptPackages: ['curl'] },
      }),
      'railpack.json',
    );
    expect(r.warnings).toEqual([
      'railpack.json: "caches" is not supported by Berth and is ignored',
      'railpack.json: "secrets" is not supported by Berth and is ignored',
      'railpack.json: "buildAptPackages" is not supported by Berth and is ignored',
      'railpack.json: packages.ffmpeg ("7") is not installed by Berth; install ffmpeg on the host',
      'railpack.json: steps.build.caches is not supported by Berth and is ignored',
      'railpack.json: steps.build.commands[0] (a copy or PATH entry) is not supported by Berth and was skipped; use a command instead',
      'railpack.json: steps.migrate is not run by Berth (only steps.install and steps.build are); fold its commands into those',
      'railpack.json: deploy.aptPackages is not supported by Berth and is ignored',
    ]);
  });

  it('bad input is one sentence naming the file and key', () => {
    expect(() => parseRailpackJson('{"deploy": ', 'railpack.json')).toThrow(
      /^railpack.json is not valid JSON/,
    );
    expect(() => parseRailpackJson('{"deploy": {"startCommand": 3}}', 'railpack.json')).toThrow(
      'railpack.json: deploy.startCommand must be a string; fix it and deploy again',
    );
  });
});

describe('nixpacks.toml', () => {
  it('reads phases.install/build cmds and start.cmd; names setup packages and "..."', () => {
    const r = parseNixpacksToml(
      '[phases.setup]\nnixPkgs = ["...", "ffmpeg"]\n[phases.install]\ncmds = ["...", "npm run postinstall"]\n[phases.build]\ncmds = ["npm run build"]\n[start]\ncmd = "npm run serve"\n[variables]\nA = "1"\n',
      'nixpacks.toml',
    );
    expect(r.layer).toEqual({
      build: { command: 'npm run build', from: 'nixpacks.toml phases.build.cmds', origin: NIX },
      start: { command: 'npm run serve', from: 'nixpacks.toml start.cmd', origin: NIX },
    });
    expect(r.warnings).toEqual([
      'nixpacks.toml: "variables" is not supported by Berth and is ignored',
      'nixpacks.toml: phases.setup.nixPkgs (ffmpeg) is not installed by Berth; install it on the host',
      'nixpacks.toml: phases.install.cmds uses "..." (the provider\'s commands plus yours), which Berth does not support; Berth ran its own install step only',
    ]);
  });
});

describe('readBuildOverrides: Railway precedence', () => {
  let cleanup = () => {};
  afterEach(() => cleanup());
  const app = (files: Record<string, string>) => {
    const t = makeTmpDir('berth-overrides-');
    cleanup = t.cleanup;
    for (const [f, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(t.dir, f)), { recursive: true });
      fs.writeFileSync(path.join(t.dir, f), text);
    }
    return t.dir;
  };

  it('RAILPACK_* > railpack.json > NIXPACKS_* > nixpacks.toml', () => {
    const dir = app({
      'railpack.json': JSON.stringify({
        steps: { build: { commands: ['rp build'] } },
        deploy: { startCommand: 'rp start' },
      }),
      'nixpacks.toml':
        '[phases.install]\ncmds = ["nix install"]\n[phases.build]\ncmds = ["nix build"]\n[start]\ncmd = "nix start"\n',
    });
    const none = readBuildOverrides(dir, {});
    expect([none.install?.from, none.build?.from, none.start?.from]).toEqual([
      'nixpacks.toml phases.install.cmds',
      'railpack.json steps.build',
      'railpack.json deploy.startCommand',
    ]);
    const vars = readBuildOverrides(dir, {
      RAILPACK_START_CMD: 'env start',
      NIXPACKS_INSTALL_CMD: 'env install',
    });
    expect(vars.start).toEqual({
      command: 'env start',
      from: 'RAILPACK_START_CMD',
      origin: { source: 'variable', variable: 'RAILPACK_START_CMD' },
    });
    expect(vars.install).toEqual({
      command: 'env install',
      from: 'NIXPACKS_INSTALL_CMD',
      origin: { source: 'variable', variable: 'NIXPACKS_INSTALL_CMD' },
    });
  });

  it('RAILPACK_CONFIG_FILE moves railpack.json; a missing one, or one outside the app, is refused', () => {
    const dir = app({ 'config/railpack.prod.json': JSON.stringify({ deploy: { startCommand: 'prod' } }) });
    expect(
      readBuildOverrides(dir, { RAILPACK_CONFIG_FILE: 'config/railpack.prod.json' }).start?.command,
    ).toBe('prod');
    expect(() => readBuildOverrides(dir, { RAILPACK_CONFIG_FILE: 'nope.json' })).toThrow(
      'RAILPACK_CONFIG_FILE names nope.json, which is not a file in the app; add it or fix the variable',
    );
    expect(() => readBuildOverrides(dir, { RAILPACK_CONFIG_FILE: '../x.json' })).toThrow(
      /must name a file inside the app/,
    );
  });

  it('a railpack.json that links outside the app reads as absent', () => {
    const dir = app({});
    fs.symlinkSync('/etc/passwd', path.join(dir, 'railpack.json'));
    expect(readBuildOverrides(dir, {}).start).toBeNull();
  });

  it('variables naming settings Berth does not do are warned about; versions from packages defer to variables', () => {
    const dir = app({ 'railpack.json': JSON.stringify({ packages: { node: '22' } }) });
    const o = readBuildOverrides(dir, {
      RAILPACK_BUILD_APT_PACKAGES: 'libvips',
      RAILPACK_NODE_VERSION: '20',
    });
    expect(o.env).toEqual({});
    expect(o.warnings).toEqual([
      'RAILPACK_BUILD_APT_PACKAGES is set but not honoured: Berth does not install apt packages for builds; install them on the host',
    ]);
    expect(readBuildOverrides(dir, {}).env).toEqual({ RAILPACK_NODE_VERSION: '22' });
  });

  it("the deployment's config records the commands with their file or variable, below railway.toml's", () => {
    const dir = app({
      'railpack.json': JSON.stringify({
        steps: { build: { commands: ['rp build'] } },
        deploy: { startCommand: 'rp start' },
      }),
    });
    const base: Loaded = {
      config: defaultServiceConfig(),
      origins: { 'deploy.startCommand': { source: 'default' } },
    };
    const fromFile = withOverrides(base, readBuildOverrides(dir, {}));
    expect(fromFile.config.build.buildCommand).toBe('rp build');
    expect(fromFile.config.deploy.startCommand).toBe('rp start');
    expect(fromFile.origins).toEqual({ 'build.buildCommand': RP, 'deploy.startCommand': RP });

    const fromVariable = withOverrides(base, readBuildOverrides(dir, { RAILPACK_START_CMD: 'v' }));
    expect(fromVariable.origins['deploy.startCommand']).toEqual({
      source: 'variable',
      variable: 'RAILPACK_START_CMD',
    });

    const toml = defaultServiceConfig();
    toml.deploy.startCommand = 'toml start';
    const railwayToml: Loaded = {
      config: toml,
      origins: { 'deploy.startCommand': { source: 'file', file: 'railway.toml' } },
    };
    const kept = withOverrides(railwayToml, readBuildOverrides(dir, {}));
    expect(kept.config.deploy.startCommand).toBe('toml start');
    expect(kept.origins['deploy.startCommand']).toEqual({ source: 'file', file: 'railway.toml' });
  });
});
