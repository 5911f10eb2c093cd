/**
 * Pure reading of PostgreSQL WAL page headers (access/xlog_internal.h), enough to tell how much of a segment
 * file PostgreSQL has written in its current use: the pages whose header carries their own address.
 */

/** XLogPageHeaderData: xlp_magic u16 @0, xlp_info u16 @2, xlp_tli u32 @4, xlp_pageaddr u64 @8 (host order). */
const PAGEADDR_OFFSET = 8;
/** XLogLongPageHeaderData (a segment's first page) adds xlp_sysid u64 @24, xlp_seg_size u32 @32, xlp_xlog_blcksz u32 @36. */
export const LONG_HEADER_BYTES = 40;
export const PAGE_HEADER_BYTES = 16;
const MAX_SEGMENT_BYTES = 64 * 1024 ** 2;

const SEGMENT_NAME = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/;

export interface WalGeometry {
  segmentBytes: number;
  blockBytes: number;
}

const isPowerOfTwo = (n: number) => n > 0 && (n & (n - 1)) === 0;

/**
 * The segment and block sizes from a segment's long page header, or null when the bytes are not one (a
 * preallocated file of zeros). PostgreSQL allows segments of 1 MB to 1 GB; Berth's clusters use 16 MB, and
 * more than 64 MB is refused: pg_wal is the tenant's to write, and a planted giant "segment" must not make
 * every shipping pass gzip a gigabyte.
 */
export function readGeometry(longHeader: Buffer): WalGeometry | null {
  if (longHeader.length < LONG_HEADER_BYTES || longHeader.readUInt16LE(0) === 0) return null;
  const segmentBytes = longHeader.readUInt32LE(32);
  const blockBytes = longHeader.readUInt32LE(36);
  if (!isPowerOfTwo(segmentBytes) || segmentBytes < 1024 ** 2 || segmentBytes > MAX_SEGMENT_BYTES)
    return null;
  if (!isPowerOfTwo(blockBytes) || blockBytes < 1024 || blockBytes > 65536) return null;
  return { segmentBytes, blockBytes };
}

/** The WAL position (LSN) where the named segment starts: log id × 4 GiB + segment number × segment size. */
export function segmentStart(name: string, segmentBytes: number): bigint {
  const m = SEGMENT_NAME.exec(name);
  if (!m) throw new Error(`${name} is not a WAL segment name`);
  return BigInt(`0x${m[2]}`) * 0x1_0000_0000n + BigInt(`0x${m[3]}`) * BigInt(segmentBytes);
}

/** A page written in this use of the file: a header naming the page's own address (recycled pages name an older one). */
export function pageIsCurrent(header: Buffer, expectedAddress: bigint): boolean {
  if (header.length < PAGE_HEADER_BYTES || header.readUInt16LE(0) === 0) return false;
  return header.readBigUInt64LE(PAGEADDR_OFFSET) === expectedAddress;
}

/**
 * How many bytes of the segment PostgreSQL has written so far: the pages up to the last current one. WAL is
 * written in order, so the current pages are a prefix and a binary search over page headers finds its end
 * (about a dozen reads of a 16 MB segment); 0 when even the first page is not current.
 */
export function writtenBytes(
  readHeader: (offset: number) => Buffer,
  name: string,
  geometry: WalGeometry,
): number {
  const start = segmentStart(name, geometry.segmentBytes);
  const pages = geometry.segmentBytes / geometry.blockBytes;
  const current = (i: number) =>
    pageIsCurrent(readHeader(i * geometry.blockBytes), start + BigInt(i * geometry.blockBytes));
  if (!current(0)) return 0;
  let lo = 0; // current
  let hi = pages; // past the end (not a page)
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (current(mid)) lo = mid;
    else hi = mid;
  }
  return (lo + 1) * geometry.blockBytes;
}
