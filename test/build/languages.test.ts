import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detect } from '../../src/build/detect.js';
import { GO_BINARY, goBuildArgv, goTarget } from '../../src/build/golang.js';
import { LANGUAGES, unbuildableMessage } from '../../src/build/languages.js';
import { defaultServiceConfig } from '../../src/core/config/index.js';
import { makeTmpDir } from '../helpers/tmp.js';

const tmp = makeTmpDir('berth-lang-');
afterAll(() => tmp.cleanup());
let n = 0;
function app(files: Record<string, string>): string {
  const dir = path.join(tmp.dir, `a${++n}`);
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}
/** A PATH with no toolchain on it. */
const emptyPath = () => {
  const dir = path.join(tmp.dir, 'empty-bin');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
};
const cfg = defaultServiceConfig();
const detectError = (dir: string, config = cfg) => {
  try {
    detect(dir, config, {}, {}, emptyPath());
  } catch (err) {
    return (err as Error).message;
  }
  return 'detected';
};

describe("Railpack's other providers", () => {
  it('names each language by its file and says what to install', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [
        { 'composer.json': '{}' },
        'Berth detected a PHP app (composer.json) but this host has no php; install it on the server (Debian: apt-get install php-cli composer) and deploy again',
      ],
      [
        { 'pom.xml': '<project/>' },
        'Berth detected a Java app (pom.xml) but this host has no java; install it on the server (Debian: apt-get install default-jdk-headless maven) and deploy again',
      ],
      [
        { 'Cargo.toml': '[package]\nname = "x"\n' },
        'Berth detected a Rust app (Cargo.toml) but this host has no cargo; install it on the server (Debian: apt-get install cargo) and deploy again',
      ],
      [
        { Gemfile: "source 'https://rubygems.org'\n" },
        'Berth detected a Ruby app (Gemfile) but this host has no ruby; install it on the server (Debian: apt-get install ruby-full ruby-bundler) and deploy again',
      ],
      [
        { 'mix.exs': 'defmodule X do end' },
        'Berth detected an Elixir app (mix.exs) but this host has no mix; install it on the server (Debian: apt-get install elixir) and deploy again',
      ],
      [
        { 'deno.json': '{}', 'main.ts': '' },
        'Berth detected a Deno app (deno.json) but this host has no deno; install it on the server (Debian: the deno binary (npm install -g deno)) and deploy again',
      ],
    ];
    for (const [files, message] of cases) expect(detectError(app(files))).toBe(message);
  });

  it('comes before Node and Python as in Railpack, except Deno, which a Python app wins', () => {
    expect(detectError(app({ Gemfile: '', 'package.json': '{"scripts":{"start":"node x"}}' }))).toMatch(
      /a Ruby app \(Gemfile\)/,
    );
    const py = detect(app({ 'deno.json': '{}', 'main.py': '' }), cfg, {}, {}, emptyPath());
    expect(py.provider).toBe('python');
  });

  it('with the tool on the host but no builder of its own, names the commands to set; with them set, runs them', () => {
    const rust = {
      language: LANGUAGES.find((l) => l.name === 'Rust') as (typeof LANGUAGES)[number],
      file: 'Cargo.toml',
    };
    expect(unbuildableMessage(rust, true, false)).toBe(
      'Berth detected a Rust app (Cargo.toml) and this host has cargo, but Berth does not build Rust apps on its own yet; set build.buildCommand "cargo build --release" and deploy.startCommand "./target/release/<binary>" in railway.toml',
    );
    expect(unbuildableMessage(rust, false, true)).toBe(
      'Berth detected a Rust app (Cargo.toml) but this host has no cargo (its Dockerfile cannot be used: no container engine driver is configured); install it on the server (Debian: apt-get install cargo) and deploy again',
    );
    const withStart = { ...cfg, deploy: { ...cfg.deploy, startCommand: './target/release/x' } };
    const det = detect(app({ 'Cargo.toml': '' }), withStart, {}, {}, emptyPath());
    expect(det).toMatchObject({ provider: 'shell', start: { command: './target/release/x' } });
    expect(det.reason).toBe(
      'a Rust app (Cargo.toml); Berth runs deploy.startCommand and build.buildCommand as they are',
    );
  });

  it('a repo whose Dockerfile is its only recipe keeps its message', () => {
    expect(detectError(app({ Dockerfile: 'FROM scratch\n' }))).toMatch(
      /^This app can only be built from its Dockerfile/,
    );
  });

  it("Python: hello.py is among Railpack's entry files", () => {
    const det = detect(app({ 'requirements.txt': '', 'hello.py': 'print(1)\n' }), cfg, {}, {}, emptyPath());
    expect(det).toMatchObject({ provider: 'python', pythonMain: 'hello.py' });
  });

  it('Go: detected by go.mod, built like Railpack into ./out', () => {
    const det = detect(app({ 'go.mod': 'module x\n', 'main.go': 'package main' }), cfg, {}, {}, emptyPath());
    expect(det).toMatchObject({ provider: 'go', reason: 'found go.mod' });
    expect(goTarget(app({ 'go.mod': 'module x\n', 'main.go': '' }), {})).toBeNull();
    expect(
      goTarget(app({ 'go.mod': 'module x\n', 'cmd/api/main.go': '', 'cmd/worker/main.go': '' }), {}),
    ).toBe('./cmd/api');
    expect(
      goTarget(app({ 'go.mod': 'module x\n', 'cmd/api/main.go': '' }), { RAILPACK_GO_BIN: 'worker' }),
    ).toBe('./cmd/worker');
    expect(goBuildArgv('/usr/bin/go', './cmd/api')).toEqual([
      '/usr/bin/go',
      'build',
      '-ldflags=-w -s',
      '-o',
      GO_BINARY,
      './cmd/api',
    ]);
    expect(goBuildArgv('/usr/bin/go', null)).toEqual(['/usr/bin/go', 'build', '-ldflags=-w -s', '-o', 'out']);
  });
});
