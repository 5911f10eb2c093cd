/** A pass-through stream that hashes (SHA-256) and counts the bytes going by: what was written or read back. */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export class HashMeter extends Transform {
  bytes = 0;
  private readonly hash = createHash('sha256');
  private hex: string | null = null;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.hex === null) this.hash.update(chunk);
    cb(null, chunk);
  }

  digest(): string {
    this.hex ??= this.hash.digest('hex');
    return this.hex;
  }
}
