import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** SQL run on a handle, or the store's handle reached from outside. */
const SQL_USE = [
  /\.prepare\(\s*[`'"]/,
  /\.exec\(\s*[`'"]\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP)/i,
  /\bstore\.db\b/,
];

describe('the store', () => {
  it('is the only code that runs SQL (src/store/README.md)', () => {
    const offenders: string[] = [];
    for (const file of sourceFiles(SRC)) {
      if (file.startsWith(path.join(SRC, 'store') + path.sep)) continue;
      fs.readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (SQL_USE.some((re) => re.test(line)))
            offenders.push(`${path.relative(SRC, file)}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offenders).toEqual([]);
  });
});
