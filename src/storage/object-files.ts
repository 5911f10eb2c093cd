/**
 * Object data on disk. Bodies stream into a temp file (small ones stay in memory and go inline into the
 * metadata), are fsynced, then renamed or linked into place and their directory fsynced — all before the
 * metadata that names them is committed. Names are random ids, never keys, so no key can reach a path.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Hasher } from './checksums.js';

/** Bodies up to this size are kept inline in the metadata database (one fsync for many small objects). */
export const INLINE_MAX = 64 * 1024;

export class ObjectFiles {
  readonly tmpDir: string;
  private readonly knownDirs = new Set<string>();

  constructor(readonly dataDir: string) {
    this.tmpDir = path.join(dataDir, 'tmp');
  }

  /** Prepares the layout; temp files of an interrupted run are garbage by definition. */
  init(): void {
    fs.rmSync(this.tmpDir, { recursive: true, force: true });
    for (const d of [this.tmpDir, path.join(this.dataDir, 'objects'), path.join(this.dataDir, 'parts')]) {
      fs.mkdirSync(d, { recursive: true });
    }
  }

  abs(rel: string): string {
    return path.join(this.dataDir, rel);
  }

  /** A new, unused relative path for an object's data in a bucket. */
  newObjectPath(bucket: string): string {
    const id = crypto.randomBytes(16).toString('hex');
    return path.join('objects', bucket, id.slice(0, 2), id);
  }

  newPartPath(uploadId: string, partNumber: number): string {
    return path.join('parts', uploadId, `${partNumber}-${crypto.randomBytes(8).toString('hex')}`);
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    await fsp.mkdir(dir, { recursive: true });
    // The new directory entries must survive a crash before any file inside them is trusted.
    await fsyncDir(path.dirname(dir));
    await fsyncDir(path.dirname(path.dirname(dir)));
    this.knownDirs.add(dir);
  }

  /**
   * Moves a received body from tmp/ to `rel`, durably: the rename first, then the file's fsync and its
   * directory's fsync at once. The row naming it commits only after both, so a crash in between leaves a file no
   * row names, which the next start removes.
   */
  async place(sink: BodySink, rel: string): Promise<void> {
    const dest = this.abs(rel);
    await this.ensureDir(path.dirname(dest));
    await sink.placeAt(dest);
  }

  /** Another name for existing data (CopyObject, completing a multipart upload): no bytes copied. */
  async link(fromRel: string, toRel: string): Promise<void> {
    const dest = this.abs(toRel);
    await this.ensureDir(path.dirname(dest));
    await fsp.link(this.abs(fromRel), dest);
    await fsyncDir(path.dirname(dest));
  }

  async remove(rels: string[]): Promise<void> {
    await Promise.all(rels.map((r) => fsp.rm(this.abs(r), { force: true })));
  }

  async removeDir(rel: string): Promise<void> {
    await fsp.rm(this.abs(rel), { recursive: true, force: true });
    this.knownDirs.clear();
  }

  removeDirSync(rel: string): void {
    fs.rmSync(this.abs(rel), { recursive: true, force: true });
    this.knownDirs.clear();
  }

  /** Every data file on disk, relative to the data dir (for the start-up reconciliation). */
  listAll(): string[] {
    const out: string[] = [];
    const walk = (rel: string) => {
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(this.abs(rel), { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const child = path.join(rel, e.name);
        if (e.isDirectory()) walk(child);
        else out.push(child);
      }
    };
    walk('objects');
    walk('parts');
    return out;
  }

  /** inlineMax 0: always a file (multipart parts, which completion links into place). */
  sink(hashers: Hasher[], maxSize: number, inlineMax = INLINE_MAX): BodySink {
    return new BodySink(this.tmpDir, hashers, maxSize, inlineMax);
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class EntityTooLargeSignal extends Error {}

/**
 * Receives a body: hashes every byte, keeps up to INLINE_MAX in memory, spills to a temp file beyond that.
 * After 'finish' the body is either `inline` or a written (not yet fsynced) temp file that `placeAt` moves.
 */
export class BodySink extends Writable {
  size = 0;
  inline: Buffer | null = null;
  tmpPath: string | null = null;
  private buffered: Buffer[] = [];
  private fh: fsp.FileHandle | null = null;

  constructor(
    private readonly tmpDir: string,
    private readonly hashers: Hasher[],
    private readonly maxSize: number,
    private readonly inlineMax: number,
  ) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, done: (err?: Error | null) => void): void {
    this.take(chunks.map((c) => c.chunk)).then(() => done(), done);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.take([chunk]).then(() => done(), done);
  }

  private async take(chunks: Buffer[]): Promise<void> {
    for (const c of chunks) {
      this.size += c.length;
      for (const h of this.hashers) h.update(c);
    }
    if (this.size > this.maxSize) throw new EntityTooLargeSignal();
    if (!this.fh) {
      this.buffered.push(...chunks);
      if (this.size <= this.inlineMax) return;
      await this.openFile();
      chunks = this.buffered;
      this.buffered = [];
    }
    await this.fh!.writev(chunks);
  }

  private async openFile(): Promise<void> {
    this.tmpPath = path.join(this.tmpDir, crypto.randomBytes(16).toString('hex'));
    this.fh = await fsp.open(this.tmpPath, 'wx', 0o600);
  }

  override _final(done: (err?: Error | null) => void): void {
    if (!this.fh && this.inlineMax === 0) {
      this.openFile().then(() => done(), done);
      return;
    }
    if (!this.fh) {
      this.inline = Buffer.concat(this.buffered);
      this.buffered = [];
    }
    done();
  }

  /** Renames the temp file to `dest`, then fsyncs the file and dest's directory together. */
  async placeAt(dest: string): Promise<void> {
    const fh = this.fh;
    if (!fh || !this.tmpPath) throw new Error('placeAt: the body has no file');
    try {
      await fsp.rename(this.tmpPath, dest);
    } catch (err) {
      await this.discard();
      throw err;
    }
    this.tmpPath = null;
    try {
      await Promise.all([fh.sync(), fsyncDir(path.dirname(dest))]);
    } finally {
      this.fh = null;
      await fh.close();
    }
  }

  /** A finished body keeps its file open for `placeAt` (streams auto-destroy after 'finish'); a failed one goes. */
  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    if (!err) {
      done(null);
      return;
    }
    this.discard().then(
      () => done(err),
      () => done(err),
    );
  }

  /** Removes the temp file of a body that will not be kept. */
  async discard(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    await fh?.close().catch(() => {});
    if (this.tmpPath) await fsp.rm(this.tmpPath, { force: true });
    this.tmpPath = null;
  }
}
