/**
 * The checksums S3 accepts (CRC32, CRC32C, CRC64NVME, SHA1, SHA256) as incremental hashers, plus MD5 for ETags and
 * Content-MD5. CRC32 is zlib's; CRC32C and CRC64NVME are table-driven (node has neither built in).
 */
import crypto from 'node:crypto';
import zlib from 'node:zlib';

export const CHECKSUM_ALGORITHMS = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];
export type ChecksumType = 'COMPOSITE' | 'FULL_OBJECT';

export interface Hasher {
  update(data: Buffer): void;
  /** Big-endian bytes, as S3 base64-encodes them. */
  digest(): Buffer;
}

export function parseChecksumAlgorithm(value: string | undefined): ChecksumAlgorithm | null {
  if (!value) return null;
  const upper = value.toUpperCase();
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(upper) ? (upper as ChecksumAlgorithm) : null;
}

/** `x-amz-checksum-crc64nvme` for CRC64NVME. */
export function checksumHeader(algorithm: ChecksumAlgorithm): string {
  return `x-amz-checksum-${algorithm.toLowerCase()}`;
}

const CRC32C_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** CRC64NVME's reflected table, split into 32-bit halves so the loop stays in small integers. */
const CRC64_TABLES = (() => {
  const lo = new Int32Array(256);
  const hi = new Int32Array(256);
  const poly = 0x9a6c9329ac4bc9b5n;
  for (let n = 0; n < 256; n++) {
    let c = BigInt(n);
    for (let k = 0; k < 8; k++) c = c & 1n ? poly ^ (c >> 1n) : c >> 1n;
    lo[n] = Number(c & 0xffffffffn) | 0;
    hi[n] = Number(c >> 32n) | 0;
  }
  return { lo, hi };
})();

class Crc32Hasher implements Hasher {
  private crc = 0;
  update(data: Buffer): void {
    this.crc = zlib.crc32(data, this.crc);
  }
  digest(): Buffer {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(this.crc >>> 0);
    return b;
  }
}

class Crc32cHasher implements Hasher {
  private crc = -1;
  update(data: Buffer): void {
    let c = this.crc;
    const t = CRC32C_TABLE;
    for (let i = 0; i < data.length; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8);
    this.crc = c;
  }
  digest(): Buffer {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(~this.crc >>> 0);
    return b;
  }
}

class Crc64NvmeHasher implements Hasher {
  private lo = -1;
  private hi = -1;
  update(data: Buffer): void {
    let lo = this.lo;
    let hi = this.hi;
    const { lo: tl, hi: th } = CRC64_TABLES;
    for (let i = 0; i < data.length; i++) {
      const idx = (lo ^ data[i]) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ tl[idx];
      hi = (hi >>> 8) ^ th[idx];
    }
    this.lo = lo;
    this.hi = hi;
  }
  digest(): Buffer {
    const b = Buffer.alloc(8);
    b.writeUInt32BE(~this.hi >>> 0, 0);
    b.writeUInt32BE(~this.lo >>> 0, 4);
    return b;
  }
}

class CryptoHasher implements Hasher {
  private readonly hash: crypto.Hash;
  constructor(name: string) {
    this.hash = crypto.createHash(name);
  }
  update(data: Buffer): void {
    this.hash.update(data);
  }
  digest(): Buffer {
    return this.hash.digest();
  }
}

export function createHasher(algorithm: ChecksumAlgorithm | 'MD5'): Hasher {
  switch (algorithm) {
    case 'CRC32':
      return new Crc32Hasher();
    case 'CRC32C':
      return new Crc32cHasher();
    case 'CRC64NVME':
      return new Crc64NvmeHasher();
    case 'SHA1':
      return new CryptoHasher('sha1');
    case 'SHA256':
      return new CryptoHasher('sha256');
    case 'MD5':
      return new CryptoHasher('md5');
  }
}

export function checksumOf(algorithm: ChecksumAlgorithm | 'MD5', data: Buffer): Buffer {
  const h = createHasher(algorithm);
  h.update(data);
  return h.digest();
}

/** A multipart upload's default checksum type: CRC64NVME only exists as a whole-object checksum. */
export function defaultChecksumType(algorithm: ChecksumAlgorithm): ChecksumType {
  return algorithm === 'CRC64NVME' ? 'FULL_OBJECT' : 'COMPOSITE';
}

/** COMPOSITE: the checksum of the parts' raw checksums, suffixed with the part count (what S3 returns). */
export function compositeChecksum(algorithm: ChecksumAlgorithm, partChecksums: Buffer[]): string {
  return `${checksumOf(algorithm, Buffer.concat(partChecksums)).toString('base64')}-${partChecksums.length}`;
}
