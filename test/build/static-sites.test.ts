import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCaddyfile } from '../../src/build/caddyfile.js';
import { readPackageJson } from '../../src/build/detect.js';
import { detectSpa } from '../../src/build/spa.js';
import { parseStaticfile, resolveStaticSite } from '../../src/build/static.js';
import { makeTmpDir } from '../helpers/tmp.js';

const tmp = makeTmpDir('berth-spa-');
afterAll(() => tmp.cleanup());
let n = 0;

/** An app dir holding the given files (package.json given as an object). */
function app(files: Record<string, string | object>): string {
  const dir = path.join(tmp.dir, `a${++n}`);
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

function spaOf(files: Record<string, string | object>, env: Record<string, string> = {}, explicit = false) {
  const dir = app(files);
  return detectSpa(dir, readPackageJson(dir), env, explicit);
}

const vitePkg = { scripts: { build: 'vite build' }, devDependencies: { vite: '^8.0.0' } };

describe('single-page app detection, like Railpack', () => {
  it('Vite: dist, or build.outDir, or --outDir', () => {
    expect(spaOf({ 'package.json': vitePkg })).toEqual({
      framework: 'vite',
      outputDir: 'dist',
      outputFrom: "Vite's default",
    });
    expect(
      spaOf({
        'package.json': vitePkg,
        'vite.config.ts': "export default { build: { outDir: 'web-build' } }",
      })?.outputDir,
    ).toBe('web-build');
    expect(
      spaOf({ 'package.json': { ...vitePkg, scripts: { build: 'vite build --outDir public/app' } } })
        ?.outputDir,
    ).toBe('public/app');
  });

  it('a Vite app with its own start script or start command runs as a process; SvelteKit is no SPA', () => {
    expect(
      spaOf({ 'package.json': { ...vitePkg, scripts: { build: 'vite build', start: 'node server.js' } } }),
    ).toBeNull();
    expect(spaOf({ 'package.json': vitePkg }, {}, true)).toBeNull();
    expect(
      spaOf({ 'package.json': { ...vitePkg, devDependencies: { vite: '6', '@sveltejs/kit': '2' } } }),
    ).toBeNull();
    // Vite without a build script has nothing to serve.
    expect(spaOf({ 'package.json': { devDependencies: { vite: '6' } } })).toBeNull();
  });

  it('RAILPACK_NO_SPA turns it off; RAILPACK_SPA_OUTPUT_DIR forces it', () => {
    expect(spaOf({ 'package.json': vitePkg }, { RAILPACK_NO_SPA: '1' })).toBeNull();
    expect(
      spaOf({ 'package.json': { scripts: { build: 'make site' } } }, { RAILPACK_SPA_OUTPUT_DIR: 'site' }),
    ).toEqual({
      framework: null,
      outputDir: 'site',
      outputFrom: 'RAILPACK_SPA_OUTPUT_DIR',
    });
  });

  it('Astro when static, not with output server or an adapter', () => {
    const pkg = { scripts: { build: 'astro build' }, dependencies: { astro: '5' } };
    expect(spaOf({ 'package.json': pkg, 'astro.config.mjs': 'export default {}' })?.outputDir).toBe('dist');
    expect(
      spaOf({ 'package.json': pkg, 'astro.config.mjs': "export default { output: 'server' }" }),
    ).toBeNull();
    expect(
      spaOf({
        'package.json': { ...pkg, dependencies: { astro: '5', '@astrojs/node': '9' } },
        'astro.config.mjs': 'export default {}',
      }),
    ).toBeNull();
  });

  it("CRA serves build/, even with react-scripts' own start script", () => {
    expect(
      spaOf({
        'package.json': {
          scripts: { start: 'react-scripts start', build: 'react-scripts build' },
          dependencies: { 'react-scripts': '5.0.1' },
        },
      }),
    ).toMatchObject({ framework: 'cra', outputDir: 'build' });
  });

  it("Angular's outputPath (string or { base }), with browser/ for the application builder", () => {
    const pkg = {
      scripts: { start: 'ng serve', build: 'ng build' },
      dependencies: { '@angular/core': '19' },
    };
    const angular = (build: object) => ({ projects: { shop: { architect: { build } } } });
    expect(
      spaOf({
        'package.json': pkg,
        'angular.json': angular({
          builder: '@angular-devkit/build-angular:application',
          options: { outputPath: 'dist/shop' },
        }),
      })?.outputDir,
    ).toBe('dist/shop/browser');
    expect(
      spaOf({
        'package.json': pkg,
        'angular.json': angular({
          builder: '@angular-devkit/build-angular:browser',
          options: { outputPath: 'dist/old' },
        }),
      })?.outputDir,
    ).toBe('dist/old');
    expect(
      spaOf({
        'package.json': pkg,
        'angular.json': angular({
          builder: '@angular/build:application',
          options: { outputPath: { base: 'out' } },
        }),
      })?.outputDir,
    ).toBe('out/browser');
  });

  it('React Router only with ssr: false; Next only with output: export', () => {
    const rr = { scripts: { build: 'react-router build' }, devDependencies: { '@react-router/dev': '7' } };
    expect(
      spaOf({ 'package.json': rr, 'react-router.config.ts': 'export default { ssr: true }' }),
    ).toBeNull();
    expect(
      spaOf({ 'package.json': rr, 'react-router.config.ts': 'export default {\n  ssr: false,\n}' }),
    ).toMatchObject({ framework: 'react-router', outputDir: 'build/client' });
    const nextPkg = { scripts: { build: 'next build', start: 'next start' }, dependencies: { next: '15' } };
    expect(spaOf({ 'package.json': nextPkg, 'next.config.mjs': 'export default {}' })).toBeNull();
    expect(
      spaOf({ 'package.json': nextPkg, 'next.config.mjs': "export default { output: 'export' }" }),
    ).toMatchObject({ framework: 'next', outputDir: 'out' });
  });
});

describe('Staticfile and Caddyfile', () => {
  it('parses root and index_fallback from a Staticfile', () => {
    expect(parseStaticfile('root: dist\nindex_fallback: true\n')).toEqual({
      root: 'dist',
      indexFallback: true,
    });
    expect(parseStaticfile("root: 'site' # the site\n")).toEqual({ root: 'site', indexFallback: null });
    expect(parseStaticfile('index_fallback: false')).toEqual({ root: null, indexFallback: false });
  });

  it("reads root and try_files from Railpack's own Caddyfile template and names what it ignores", () => {
    const railpack = `{
	admin off
	servers {
		trusted_proxies static private_ranges
	}
}

:{$PORT:80} {
	respond /health 200
	header {
		X-Content-Type-Options "nosniff"
	}
	root * /app/web/dist
	file_server {
		hide .git
	}
	encode {
		gzip
	}
	@api path /api/*
	try_files {path} {path}.html {path}/index.html /index.html
}
`;
    expect(parseCaddyfile(railpack)).toEqual({
      root: 'web/dist',
      rootOutside: null,
      fallback: 'index.html',
      ignored: ['respond', 'header', 'encode'],
    });
    expect(parseCaddyfile(':80 {\n root * {{.DIST_DIR}}\n try_files {path} {path}.html\n}')).toEqual({
      root: null,
      rootOutside: null,
      fallback: '',
      ignored: [],
    });
    expect(parseCaddyfile(':80 {\n root * /srv/www\n}').rootOutside).toBe('/srv/www');
  });

  it('picks root and fallback: Caddyfile > SPA output > RAILPACK_STATIC_FILE_ROOT > Staticfile > candidates', () => {
    const spaRoot = { dir: 'dist', from: "Vite's default" };
    const dir = app({ 'dist/index.html': 'x', 'site/index.html': 'y', 'public/index.html': 'z' });
    const plain = { spaRoot: null, candidates: ['dist', 'public'], fallbackRoot: '.' };
    expect(resolveStaticSite(dir, {}, { ...plain, spaRoot })).toEqual({
      root: 'dist',
      fallback: 'index.html',
      notes: [],
    });
    expect(resolveStaticSite(dir, {}, plain)).toEqual({ root: 'dist', fallback: null, notes: [] });
    expect(resolveStaticSite(dir, { RAILPACK_STATIC_FILE_ROOT: 'site' }, plain)?.root).toBe('site');

    fs.writeFileSync(path.join(dir, 'Staticfile'), 'root: public\nindex_fallback: true\n');
    expect(resolveStaticSite(dir, {}, plain)).toEqual({ root: 'public', fallback: 'index.html', notes: [] });
    // The Staticfile turns an SPA's fallback off, as in Railpack.
    fs.writeFileSync(path.join(dir, 'Staticfile'), 'index_fallback: false\n');
    expect(resolveStaticSite(dir, {}, { ...plain, spaRoot })).toMatchObject({ root: 'dist', fallback: null });
    fs.rmSync(path.join(dir, 'Staticfile'));

    fs.writeFileSync(
      path.join(dir, 'Caddyfile'),
      ':80 {\n  root * /app/site\n  header X-A b\n  try_files {path} /index.html\n}\n',
    );
    expect(resolveStaticSite(dir, {}, plain)).toEqual({
      root: 'site',
      fallback: 'index.html',
      notes: [
        'Caddyfile: Berth serves static files with its own edge, not Caddy; it applies root and try_files and ignores header',
      ],
    });
    fs.rmSync(path.join(dir, 'Caddyfile'));

    expect(() => resolveStaticSite(dir, { RAILPACK_STATIC_FILE_ROOT: '../..' }, plain)).toThrow(
      'RAILPACK_STATIC_FILE_ROOT "../.." points outside the app; use a path inside it',
    );
    expect(() => resolveStaticSite(dir, {}, { ...plain, spaRoot: { dir: 'build', from: 'x' } })).toThrow(
      'The output directory "build" is not a directory in the built app',
    );
  });
});
