/**
 * crc(A‖B) from crc(A), crc(B) and |B| for the reflected CRCs S3 uses (init and final XOR all ones): zlib's
 * crc32_combine over GF(2), generic in width. Completing a FULL_OBJECT multipart upload folds the parts'
 * checksums with it instead of reading the object again.
 */
import type { ChecksumAlgorithm } from './checksums.js';

const POLY: Partial<Record<ChecksumAlgorithm, { poly: bigint; width: number }>> = {
  CRC32: { poly: 0xedb88320n, width: 32 },
  CRC32C: { poly: 0x82f63b78n, width: 32 },
  CRC64NVME: { poly: 0x9a6c9329ac4bc9b5n, width: 64 },
};

export function canCombine(algorithm: ChecksumAlgorithm): boolean {
  return POLY[algorithm] !== undefined;
}

/** a(x)·b(x) mod p(x), bit-reflected. */
function multModP(a: bigint, b: bigint, poly: bigint, width: number): bigint {
  let m = 1n << BigInt(width - 1);
  let p = 0n;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1n)) === 0n) break;
    }
    m >>= 1n;
    b = b & 1n ? (b >> 1n) ^ poly : b >> 1n;
  }
  return p;
}

/** x^(n·2^k) mod p(x): with k = 3, the shift for n bytes. */
function xToTheNModP(n: bigint, k: number, poly: bigint, width: number): bigint {
  let p = 1n << BigInt(width - 1);
  let power = 1n << BigInt(width - 2); // x^1
  for (let i = 0; i < k; i++) power = multModP(power, power, poly, width);
  while (n > 0n) {
    if (n & 1n) p = multModP(power, p, poly, width);
    n >>= 1n;
    power = multModP(power, power, poly, width);
  }
  return p;
}

function toBig(b: Buffer): bigint {
  return BigInt(`0x${b.toString('hex') || '0'}`);
}

function fromBig(v: bigint, width: number): Buffer {
  return Buffer.from(v.toString(16).padStart(width / 4, '0'), 'hex');
}

/** The CRC of the concatenation of parts, given each part's CRC (big-endian bytes) and length. */
export function combineCrcs(
  algorithm: ChecksumAlgorithm,
  parts: Array<{ crc: Buffer; length: number }>,
): Buffer {
  const spec = POLY[algorithm];
  if (!spec) throw new Error(`${algorithm} cannot be combined`);
  let crc: bigint | null = null;
  for (const part of parts) {
    const next = toBig(part.crc);
    crc =
      crc === null
        ? next
        : multModP(xToTheNModP(BigInt(part.length), 3, spec.poly, spec.width), crc, spec.poly, spec.width) ^
          next;
  }
  return fromBig(crc ?? 0n, spec.width);
}
