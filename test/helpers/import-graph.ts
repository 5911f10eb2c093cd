import fs from 'node:fs';
import path from 'node:path';

/**
 * The import graph of TypeScript sources, read from their text: `import … from`, `export … from`, bare
 * `import '…'` and `import('…')` with a literal, type-only imports included (they tie modules as much as any).
 * Only relative specifiers are followed; `./x.js` resolves to `x.ts` as tsc does with NodeNext.
 */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*|\bimport\s*\(\s*)['"]([^'"\n]+)['"]/g;

/** Relative specifiers one source file imports, resolved to absolute .ts paths (comments on their own lines skipped). */
export function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8').replace(/^\s*\/\*[\s\S]*?\*\/|^\s*\/\/.*$/gm, '');
  const out = new Set<string>();
  for (const m of text.matchAll(SPECIFIER)) {
    const spec = m[1] as string;
    if (!spec.startsWith('.')) continue;
    out.add(resolveSource(path.resolve(path.dirname(file), spec)));
  }
  return [...out];
}

function resolveSource(target: string): string {
  const candidates = [target.replace(/\.js$/, '.ts'), `${target}.ts`, path.join(target, 'index.ts'), target];
  return candidates.find((c) => fs.existsSync(c) && fs.statSync(c).isFile()) ?? target;
}

/** Every .ts file under a directory (.d.ts included: they can import too). */
export function sourceFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/** The graph of every file under `dir`: file → the files it imports. */
export function importGraph(dir: string): Map<string, string[]> {
  return new Map(sourceFiles(dir).map((f) => [f, importsOf(f)]));
}

/**
 * The strongly connected components with more than one file (or a file importing itself): each is an import
 * cycle. Tarjan's algorithm; members sorted so the answer is stable.
 */
export function importCycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles.sort((a, b) => (a[0] as string).localeCompare(b[0] as string));
}
