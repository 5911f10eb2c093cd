/**
 * A Go repository whose cmd/ is a committed symlink out of the app (`cmd -> /etc`, or to the data dir): the
 * daemon picks the package to build by listing cmd/, so it listed the host's directory, named its first entry
 * in the build log and built whatever Go code was there. cmd/ now counts only when its real path is inside the
 * app. The real builder, with the host's go.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { goTarget } from '../../src/build/golang.js';
import { buildApp } from '../../src/build/index.js';
import { defaultServiceConfig } from '../../src/core/config/index.js';
import { makeTmpDir } from '../helpers/tmp.js';

const haveGo = spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0;

describe.runIf(haveGo)('Go cmd/ symlinked out of the app', () => {
  const tmp = makeTmpDir('berth-go-cmd-');
  afterAll(() => tmp.cleanup());

  it('is neither listed nor built: the build names nothing outside the app', async () => {
    // What the link points at: a directory of the host with a Go program in a subdirectory.
    const outside = path.join(tmp.dir, 'host-dir');
    fs.mkdirSync(path.join(outside, 'outside-only'), { recursive: true });
    fs.writeFileSync(
      path.join(outside, 'outside-only', 'main.go'),
      'package main\n\nfunc main() { println("built from outside the app") }\n',
    );
    const appDir = path.join(tmp.dir, 'd1', 'app');
    fs.mkdirSync(appDir, { recursive: true });
    fs.writeFileSync(path.join(appDir, 'go.mod'), 'module example.com/evil\n\ngo 1.19\n');
    fs.symlinkSync(outside, path.join(appDir, 'cmd'));

    expect(goTarget(appDir, {})).toBeNull();

    const lines: string[] = [];
    const built = await buildApp({
      appDir,
      cacheDir: path.join(tmp.dir, 'cache'),
      config: defaultServiceConfig(),
      env: {},
      log: (line) => lines.push(line),
      signal: new AbortController().signal,
      timeoutMs: 120_000,
    }).then(
      () => true,
      () => false,
    );
    // The module root has no Go files, so go build fails; nothing from host-dir was compiled or named.
    expect(built).toBe(false);
    expect(lines.join('\n')).not.toContain('outside-only');
    expect(fs.existsSync(path.join(appDir, 'out'))).toBe(false);
  });

  it('a real cmd/ directory inside the app is still built', () => {
    const appDir = path.join(tmp.dir, 'd2', 'app');
    fs.mkdirSync(path.join(appDir, 'cmd', 'api'), { recursive: true });
    fs.writeFileSync(path.join(appDir, 'go.mod'), 'module example.com/ok\n');
    fs.writeFileSync(path.join(appDir, 'cmd', 'api', 'main.go'), 'package main\n\nfunc main() {}\n');
    expect(goTarget(appDir, {})).toBe('./cmd/api');
  });
});
