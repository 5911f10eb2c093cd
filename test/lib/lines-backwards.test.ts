import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { linesBackwards } from '../../src/lib/lines-backwards.js';
import { makeTmpDir } from '../helpers/tmp.js';

let tmp: { dir: string; cleanup: () => void };
beforeEach(() => {
  tmp = makeTmpDir('berth-lines-');
});
afterEach(() => tmp.cleanup());

function file(content: string): string {
  const f = path.join(tmp.dir, 'f.log');
  fs.writeFileSync(f, content);
  return f;
}

describe('linesBackwards', () => {
  it('yields lines newest first across block boundaries, skipping an unterminated last line', () => {
    const lines = Array.from({ length: 500 }, (_, i) => `${i} ${'é'.repeat(i % 7)}`);
    for (const block of [1, 3, 7, 64, 65536]) {
      expect([...linesBackwards(file(`${lines.join('\n')}\npartial`), block)]).toEqual([...lines].reverse());
    }
  });

  it('keeps empty lines and a first line; a missing, empty or newline-free file yields nothing', () => {
    expect([...linesBackwards(file('\na\n\nb\n'), 2)]).toEqual(['b', '', 'a', '']);
    expect([...linesBackwards(file(''))]).toEqual([]);
    expect([...linesBackwards(file('no newline at all'), 4)]).toEqual([]);
    expect([...linesBackwards(path.join(tmp.dir, 'missing'))]).toEqual([]);
  });

  it('reads only the end of a big file for its last lines', () => {
    const f = file(`${'x'.repeat(50 * 1024 * 1024)}\nlast one\n`);
    const reads: number[] = [];
    const read = fs.readSync;
    // Counting the bytes read through the real fs: the generator must stop after a block or two.
    const spy = (fd: number, buf: NodeJS.ArrayBufferView, off: number, len: number, pos: number | null) => {
      reads.push(len);
      return read(fd, buf, off, len, pos);
    };
    (fs as { readSync: unknown }).readSync = spy;
    try {
      const it = linesBackwards(f);
      expect(it.next().value).toBe('last one');
      it.return(undefined);
    } finally {
      (fs as { readSync: unknown }).readSync = read;
    }
    expect(reads.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(64 * 1024);
  });
});
