/**
 * Decodes an aws-chunked body (`Content-Encoding: aws-chunked`) as it streams: `hex-size[;chunk-signature=sig]`
 * lines, data, and after the last (empty) chunk optional trailing headers (`x-amz-checksum-crc32:…`). Chunk
 * signatures are checked chained on the seed signature; the decoded bytes flow on without being buffered.
 */
import crypto from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { S3Error } from './errors.js';
import {
  chunkStringToSign,
  EMPTY_SHA256,
  sha256Hex,
  signaturesEqual,
  signHex,
  trailerStringToSign,
} from './sigv4.js';

export interface ChunkSigning {
  seed: string;
  key: Buffer;
  amzDate: string;
  scope: string;
}

const MAX_LINE = 4096;

type State = 'size' | 'data' | 'data-end' | 'trailer' | 'done';

export class AwsChunkedDecoder extends Transform {
  /** Trailing headers, lower-case names, available after 'end'. */
  readonly trailers = new Map<string, string>();
  private state: State = 'size';
  private line = '';
  private remaining = 0;
  private chunkSignature = '';
  private previous: string;
  private chunkHash: crypto.Hash | null = null;
  private trailerText = '';
  decodedLength = 0;

  constructor(private readonly signing: ChunkSigning | null) {
    super();
    this.previous = signing?.seed ?? '';
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.consume(chunk);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    if (this.state !== 'done') {
      done(new S3Error('IncompleteBody', 'The aws-chunked body ended before its final chunk.'));
      return;
    }
    done();
  }

  private consume(buf: Buffer): void {
    let i = 0;
    while (i < buf.length) {
      if (this.state === 'data') {
        const n = Math.min(this.remaining, buf.length - i);
        const slice = buf.subarray(i, i + n);
        this.chunkHash?.update(slice);
        this.decodedLength += n;
        this.push(slice);
        this.remaining -= n;
        i += n;
        if (this.remaining === 0) this.state = 'data-end';
        continue;
      }
      if (this.state === 'done') {
        // Anything after the final CRLF is a protocol error, but a stray CRLF is harmless.
        if (buf.subarray(i).toString('latin1').trim() !== '') {
          throw new S3Error('IncompleteBody', 'The aws-chunked body has data after its final chunk.');
        }
        return;
      }
      const nl = buf.indexOf(10, i);
      const end = nl < 0 ? buf.length : nl + 1;
      this.line += buf.toString('latin1', i, end);
      i = end;
      if (this.line.length > MAX_LINE)
        throw new S3Error('IncompleteBody', 'An aws-chunked header line is too long.');
      if (nl < 0) continue;
      const line = this.line.replace(/\r?\n$/, '');
      this.line = '';
      this.onLine(line);
    }
  }

  private onLine(line: string): void {
    if (this.state === 'data-end') {
      if (line !== '')
        throw new S3Error('IncompleteBody', 'An aws-chunked chunk is longer than its declared size.');
      this.endChunk();
      this.state = 'size';
      return;
    }
    if (this.state === 'size') {
      const [sizeText, ...exts] = line.split(';');
      const size = Number.parseInt(sizeText, 16);
      if (!/^[0-9a-fA-F]+$/.test(sizeText.trim()) || !Number.isSafeInteger(size)) {
        throw new S3Error('IncompleteBody', 'An aws-chunked chunk has a malformed size line.');
      }
      const sig = exts.map((e) => e.trim()).find((e) => e.startsWith('chunk-signature='));
      this.chunkSignature = sig ? sig.slice('chunk-signature='.length) : '';
      if (this.signing && !this.chunkSignature) {
        throw new S3Error(
          'SignatureDoesNotMatch',
          'A chunk of a signed aws-chunked upload has no chunk-signature.',
        );
      }
      this.chunkHash = this.signing ? crypto.createHash('sha256') : null;
      this.remaining = size;
      if (size === 0) {
        this.endChunk();
        this.state = 'trailer';
      } else {
        this.state = 'data';
      }
      return;
    }
    // trailer
    if (line === '') {
      this.verifyTrailer();
      this.state = 'done';
      return;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new S3Error('IncompleteBody', 'An aws-chunked trailer line is malformed.');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'x-amz-trailer-signature') this.trailers.set(name, value);
    else {
      this.trailers.set(name, value);
      this.trailerText += `${name}:${value}\n`;
    }
  }

  private endChunk(): void {
    if (!this.signing) return;
    const hash = this.chunkHash ? this.chunkHash.digest('hex') : EMPTY_SHA256;
    const s = this.signing;
    const expected = signHex(s.key, chunkStringToSign(s.amzDate, s.scope, this.previous, hash));
    if (!signaturesEqual(expected, this.chunkSignature)) {
      throw new S3Error(
        'SignatureDoesNotMatch',
        'A chunk signature of the aws-chunked upload does not match.',
      );
    }
    this.previous = expected;
  }

  private verifyTrailer(): void {
    if (!this.signing) return;
    const given = this.trailers.get('x-amz-trailer-signature');
    if (given === undefined) {
      if (this.trailerText === '') return;
      throw new S3Error(
        'SignatureDoesNotMatch',
        'The trailing headers of a signed upload carry no signature.',
      );
    }
    const s = this.signing;
    const expected = signHex(
      s.key,
      trailerStringToSign(s.amzDate, s.scope, this.previous, sha256Hex(this.trailerText)),
    );
    if (!signaturesEqual(expected, given)) {
      throw new S3Error(
        'SignatureDoesNotMatch',
        'The trailer signature of the aws-chunked upload does not match.',
      );
    }
  }
}
