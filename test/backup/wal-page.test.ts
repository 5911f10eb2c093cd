import { describe, expect, it } from 'vitest';
import { pageIsCurrent, readGeometry, segmentStart, writtenBytes } from '../../src/backup/wal-page.js';

const SEG = 1024 ** 2;
const BLOCK = 8192;
const NAME = '000000010000000300000042';

/** A segment file as PostgreSQL leaves it: `current` pages of this use, then pages of an older use (or zeros). */
function segmentFile(name: string, current: number, rest: 'recycled' | 'zeros'): Buffer {
  const b = Buffer.alloc(SEG);
  const start = segmentStart(name, SEG);
  for (let i = 0; i < SEG / BLOCK; i++) {
    const at = i * BLOCK;
    if (i >= current && rest === 'zeros') break;
    b.writeUInt16LE(0xd110, at);
    b.writeUInt32LE(1, at + 4);
    // A recycled page names where it was in its old use: 64 segments earlier.
    const address = start + BigInt(at) - (i < current ? 0n : 64n * BigInt(SEG));
    b.writeBigUInt64LE(address, at + 8);
  }
  if (current > 0) {
    b.writeUInt32LE(SEG, 32);
    b.writeUInt32LE(BLOCK, 36);
  }
  return b;
}

const headers = (file: Buffer) => (offset: number) => file.subarray(offset, offset + 16);

describe('WAL page headers: how much of the segment being written is written', () => {
  it('reads a segment name as the position it starts at', () => {
    expect(segmentStart(NAME, 16 * 1024 ** 2)).toBe(3n * 0x1_0000_0000n + 0x42n * 16n * 1024n ** 2n);
    expect(() => segmentStart('00000001.history', SEG)).toThrow('is not a WAL segment name');
  });

  it('reads segment and block sizes from the long header, and nothing from zeros or nonsense', () => {
    expect(readGeometry(segmentFile(NAME, 3, 'zeros').subarray(0, 40))).toEqual({
      segmentBytes: SEG,
      blockBytes: BLOCK,
    });
    expect(readGeometry(Buffer.alloc(40))).toBeNull();
    const odd = segmentFile(NAME, 3, 'zeros').subarray(0, 40);
    odd.writeUInt32LE(3 * SEG, 32);
    expect(readGeometry(odd)).toBeNull();
    // PostgreSQL allows 1 GB segments; a tenant's planted one that size is not read.
    odd.writeUInt32LE(1024 * SEG, 32);
    expect(readGeometry(odd)).toBeNull();
    odd.writeUInt32LE(64 * SEG, 32);
    expect(readGeometry(odd)).toEqual({ segmentBytes: 64 * SEG, blockBytes: BLOCK });
    expect(readGeometry(Buffer.alloc(10))).toBeNull();
  });

  it.each([1, 2, 37, 127, 128])('finds %i written pages before recycled ones and before zeros', (n) => {
    const g = { segmentBytes: SEG, blockBytes: BLOCK };
    expect(writtenBytes(headers(segmentFile(NAME, n, 'recycled')), NAME, g)).toBe(n * BLOCK);
    expect(writtenBytes(headers(segmentFile(NAME, n, 'zeros')), NAME, g)).toBe(n * BLOCK);
  });

  it('finds nothing written in a recycled file renamed forward, or one of zeros', () => {
    const g = { segmentBytes: SEG, blockBytes: BLOCK };
    expect(writtenBytes(headers(segmentFile(NAME, 0, 'recycled')), NAME, g)).toBe(0);
    expect(writtenBytes(headers(Buffer.alloc(SEG)), NAME, g)).toBe(0);
    // The same bytes under the name of the segment they were written as are current there.
    const file = segmentFile(NAME, 5, 'recycled');
    expect(pageIsCurrent(file.subarray(0, 16), segmentStart(NAME, SEG))).toBe(true);
    expect(pageIsCurrent(file.subarray(0, 16), segmentStart(NAME, SEG) + BigInt(SEG))).toBe(false);
  });
});
