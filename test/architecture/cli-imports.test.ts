import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importsOf, sourceFiles } from '../helpers/import-graph.js';

const SRC = path.resolve(import.meta.dirname, '..', '..', 'src');

/**
 * What the CLI may reach of the rest of src/: the API's contract, src/lib (helpers with no Berth knowledge; the
 * walk below checks they import nothing else either), and `berth server`'s entry point, which is not followed.
 */
const ALLOWED_DIRS = ['cli', 'api/contract', 'lib'];
const SERVER_ENTRY = 'server/main.ts';

/** Every file reached from src/cli by imports (type-only ones included), with the file that imported it. */
function reachedFromCli(): Map<string, string> {
  const reached = new Map<string, string>();
  const queue = sourceFiles(path.join(SRC, 'cli'));
  for (const f of queue) reached.set(path.relative(SRC, f), '(src/cli)');
  while (queue.length > 0) {
    const file = queue.shift() as string;
    if (path.relative(SRC, file) === SERVER_ENTRY) continue;
    for (const target of importsOf(file)) {
      const rel = path.relative(SRC, target);
      if (reached.has(rel)) continue;
      reached.set(rel, path.relative(SRC, file));
      queue.push(target);
    }
  }
  return reached;
}

describe('the CLI imports no server code', () => {
  it('reaches only src/cli, the API contract, src/lib and the server entry point', () => {
    const reached = reachedFromCli();
    const outside = [...reached]
      .filter(([rel]) => rel !== SERVER_ENTRY && !ALLOWED_DIRS.some((d) => rel.startsWith(`${d}/`)))
      .map(([rel, by]) => `${rel} (imported by ${by})`);
    expect(outside).toEqual([]);
    // The walk really crosses into the contract and stops at the entry point (a broken walk reaches nothing).
    expect(reached.has('api/contract/index.ts')).toBe(true);
    expect(reached.has(SERVER_ENTRY)).toBe(true);
  });
});
