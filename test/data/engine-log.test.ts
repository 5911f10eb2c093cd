import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lastEngineLines, rotateEngineLog } from '../../src/data/engine-log.js';
import { makeTmpDir } from '../helpers/tmp.js';

describe('engine logs', () => {
  let tmp: { dir: string; cleanup: () => void };
  beforeEach(() => {
    tmp = makeTmpDir('berth-engine-log-');
  });
  afterEach(() => tmp.cleanup());
  const files = () => ({ stdout: path.join(tmp.dir, 'w.out.log'), stderr: path.join(tmp.dir, 'w.err.log') });

  it('rotates a log past its cap while the engine keeps appending to the same open file', () => {
    const f = files();
    fs.writeFileSync(f.stdout, '');
    const fd = fs.openSync(f.stderr, 'a'); // the engine's O_APPEND descriptor
    fs.writeSync(fd, 'one\ntwo\nthree\n');
    expect(rotateEngineLog(f.stderr, 100)).toBe(false);
    fs.writeSync(fd, `${'x'.repeat(120)}\n`);
    expect(rotateEngineLog(f.stderr, 100)).toBe(true);
    expect(fs.statSync(f.stderr).size).toBe(0);
    fs.writeSync(fd, 'after\n');
    fs.closeSync(fd);
    expect(fs.readFileSync(f.stderr, 'utf8')).toBe('after\n');
    expect(lastEngineLines(f, 3)).toEqual(['three', 'x'.repeat(120), 'after']);
    expect(rotateEngineLog(path.join(tmp.dir, 'missing.log'), 1)).toBe(false);
  });
});
