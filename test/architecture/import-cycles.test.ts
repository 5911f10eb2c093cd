import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importCycles, importGraph, importsOf } from '../helpers/import-graph.js';
import { makeTmpDir } from '../helpers/tmp.js';

const SRC = path.resolve(import.meta.dirname, '..', '..', 'src');

/**
 * Cycles being removed by other work of issue 14, listed so this test can land first. Each entry must still be
 * a cycle: the test fails once it is gone, so the list only ever shrinks.
 */
const KNOWN: string[][] = [];

const rel = (files: string[]) => files.map((f) => path.relative(SRC, f));

describe('import cycles in src/', () => {
  it('has none (type-only imports count: they tie modules too)', () => {
    const cycles = importCycles(importGraph(SRC)).map(rel);
    const known = new Set(KNOWN.map((c) => c.join(' ')));
    expect(cycles.filter((c) => !known.has(c.join(' ')))).toEqual([]);
    const present = new Set(cycles.map((c) => c.join(' ')));
    expect(
      KNOWN.filter((c) => !present.has(c.join(' '))),
      'gone: remove them from KNOWN',
    ).toEqual([]);
  });

  it('finds a cycle through a type-only import, a re-export and a dynamic import', () => {
    const t = makeTmpDir('berth-cycles-');
    try {
      const write = (name: string, text: string) => fs.writeFileSync(path.join(t.dir, name), text);
      write('a.ts', "import type { B } from './b.js';\nexport type A = B;\n");
      write('b.ts', "export { c } from './c.js';\nexport type B = string;\n");
      write('c.ts', "export const c = () => import('./a.js');\n");
      write('d.ts', "import { c } from './c.js';\n// import { x } from './d.js';\nexport const d = c;\n");
      expect(importsOf(path.join(t.dir, 'd.ts'))).toEqual([path.join(t.dir, 'c.ts')]);
      expect(importCycles(importGraph(t.dir)).map((c) => c.map((f) => path.basename(f)))).toEqual([
        ['a.ts', 'b.ts', 'c.ts'],
      ]);
    } finally {
      t.cleanup();
    }
  });
});
