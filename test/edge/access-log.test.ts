/**
 * The access log's buffering: lines encoded into fixed buffers keep their order and bytes across buffer
 * boundaries, lines longer than a buffer, timer flushes and rotation; little traffic is written by the timer.
 */

import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { AccessLog, accessLogFiles } from '../../src/edge/access-log.js';
import { waitFor } from '../../src/lib/wait.js';
import { makeTmpDir } from '../helpers/tmp.js';

const tmp = makeTmpDir('berth-access-log-');
afterAll(() => tmp.cleanup());

function lines(n: number, from = 0): string[] {
  // Varied lengths and a multi-byte character, so lines straddle buffer ends at every offset.
  return Array.from({ length: n }, (_, i) => `{"n":${from + i},"p":"/é${'x'.repeat((from + i) % 97)}"}\n`);
}

describe('access log buffering', () => {
  it('writes every line once, in order, across buffers and oversized lines', async () => {
    const log = new AccessLog(tmp.dir, { flushBytes: 1024, flushMs: 50 });
    const f = log.file('svc-a');
    const want = [...lines(300), `{"long":"${'y'.repeat(5000)}"}\n`, ...lines(300, 300)];
    for (const l of want) f.append(l);
    await log.flush();
    expect(fs.readFileSync(accessLogFiles(tmp.dir, 'svc-a')[0], 'utf8')).toBe(want.join(''));
    expect(f.buffered).toBe(0);
    await log.close();
  });

  it('writes a few lines after flushMs without an explicit flush', async () => {
    const log = new AccessLog(tmp.dir, { flushMs: 20 });
    const f = log.file('svc-b');
    f.append('{"a":1}\n');
    f.append('{"a":2}\n');
    const file = accessLogFiles(tmp.dir, 'svc-b')[0];
    await waitFor('the timer flush', () => fs.existsSync(file) && fs.statSync(file).size === 16);
    f.append('{"a":3}\n');
    await log.flush();
    expect(fs.readFileSync(file, 'utf8')).toBe('{"a":1}\n{"a":2}\n{"a":3}\n');
    await log.close();
  });

  it('rotates by size, keeping whole lines in the current and the rotated file', async () => {
    const log = new AccessLog(tmp.dir, { flushBytes: 1024, maxBytes: 4096 });
    const f = log.file('svc-c');
    const want = lines(400);
    for (const l of want) f.append(l);
    await log.flush();
    const [current, rotated] = accessLogFiles(tmp.dir, 'svc-c');
    const text = fs.readFileSync(rotated, 'utf8') + fs.readFileSync(current, 'utf8');
    expect(fs.statSync(current).size).toBeLessThanOrEqual(4096);
    expect(want.join('').endsWith(text)).toBe(true);
    expect(text.startsWith('{"n":')).toBe(true);
    await log.close();
  });

  it('drops lines beyond maxBufferedBytes and counts them', async () => {
    const log = new AccessLog(tmp.dir, { flushBytes: 1024, maxBufferedBytes: 2048 });
    const f = log.file('svc-d');
    for (const l of lines(500)) f.append(l);
    expect(log.dropped).toBeGreaterThan(0);
    await log.flush();
    const written = fs.readFileSync(accessLogFiles(tmp.dir, 'svc-d')[0], 'utf8').split('\n').length - 1;
    expect(written + log.dropped).toBe(500);
    await log.close();
  });
});
