import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { uploadPlan } from '../../src/cli/commands/up.js';
import { listSourceFiles } from '../../src/cli/upload.js';
import { makeTmpDir } from '../helpers/tmp.js';

describe('uploadPlan: what `berth up` uploads (Railway: the linked project directory)', () => {
  it('roots the archive at the linked directory from any subdirectory', () => {
    expect(uploadPlan('/r/web', undefined, '/r', false)).toEqual({ root: '/r', under: '' });
    expect(uploadPlan('/r', undefined, '/r', false)).toEqual({ root: '/r', under: '' });
  });
  it('keeps an explicit PATH at its place under the linked directory', () => {
    expect(uploadPlan('/r', 'apps/web', '/r', false)).toEqual({ root: '/r', under: 'apps/web' });
    expect(uploadPlan('/r/apps', 'web', '/r', false)).toEqual({ root: '/r', under: 'apps/web' });
  });
  it('uses PATH (or the current directory) as the root without a link, with --path-as-root, or outside it', () => {
    expect(uploadPlan('/x', undefined, undefined, false)).toEqual({ root: '/x', under: '' });
    expect(uploadPlan('/r', 'web', '/r', true)).toEqual({ root: '/r/web', under: '' });
    expect(uploadPlan('/r', '/elsewhere/app', '/r', false)).toEqual({ root: '/elsewhere/app', under: '' });
  });
});

describe('listSourceFiles under a subdirectory', () => {
  let cleanup = () => {};
  afterEach(() => cleanup());
  it('lists only the subtree, at its place, with the ignore files above it applied', () => {
    const t = makeTmpDir('berth-upload-plan-');
    cleanup = t.cleanup;
    const w = (f: string, text = 'x') => {
      fs.mkdirSync(path.dirname(path.join(t.dir, f)), { recursive: true });
      fs.writeFileSync(path.join(t.dir, f), text);
    };
    w('.gitignore', '*.log\n');
    w('apps/.gitignore', 'secret.txt\n');
    w('apps/web/server.js');
    w('apps/web/debug.log');
    w('apps/web/secret.txt');
    w('apps/web/node_modules/x/index.js');
    w('apps/api/main.js');
    w('README.md');
    expect(listSourceFiles(t.dir, 'apps/web')).toEqual(['apps/web/server.js']);
    expect(listSourceFiles(t.dir)).toEqual([
      '.gitignore',
      'apps/.gitignore',
      'apps/api/main.js',
      'apps/web/server.js',
      'README.md',
    ]);
  });
});
