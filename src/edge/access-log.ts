/**
 * The built-in edge's access log: one JSON line per request, appended to one file per service
 * (`DIR/access-logs/<key>.ndjson`, see accessLogFiles). Lines are encoded into a flushBytes buffer as they
 * come and written in batches (when the buffer is full, or flushMs after the first unwritten line), one write
 * in flight per file, never a synchronous write on the request path. Writing each time the previous write
 * finished measured ~4 % of the edge's CPU under load in thread-pool hand-offs of a few lines each. A file past maxBytes is renamed to
 * `<key>.1.ndjson` (replacing the previous one) and a new one started, so a service keeps at most about
 * 2 × maxBytes of log. If the disk does not keep up, lines beyond maxBufferedBytes are dropped and counted.
 */

import fs from 'node:fs';
import path from 'node:path';

export const ACCESS_LOG_DIR = 'access-logs';

/** [current, rotated] file of a service's access log, newest first. */
export function accessLogFiles(stateDir: string, key: string): [string, string] {
  const dir = path.join(stateDir, ACCESS_LOG_DIR);
  return [path.join(dir, `${key}.ndjson`), path.join(dir, `${key}.1.ndjson`)];
}

/** One access log line, as written and as the API returns it. */
export interface AccessLogEntry {
  time: string;
  service: string;
  deploymentId: string;
  method: string;
  host: string;
  path: string;
  status: number;
  durationMs: number;
  bytesIn: number;
  bytesOut: number;
  requestId: string;
  ip: string;
}

export interface AccessLogOptions {
  /** Size at which a service's file is rotated. Default 16 MiB. */
  maxBytes?: number;
  /** Buffered bytes of one file that trigger a write. Default 64 KiB. */
  flushBytes?: number;
  /** Longest time a line stays buffered. Default 1000 ms. */
  flushMs?: number;
  /** Buffered bytes of one file beyond which new lines are dropped. Default 8 MiB. */
  maxBufferedBytes?: number;
  log?: (msg: string) => void;
}

/** ISO time of the current millisecond, formatted once per millisecond rather than once per request. */
let isoMs = 0;
let isoText = '';
function isoNow(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    isoText = new Date(now).toISOString();
  }
  return isoText;
}

/**
 * The JSON line of one request; `fields` is the deployment's constant `"service":…,"deploymentId":…`.
 * Values that come from the client are escaped with JSON.stringify; the rest are numbers or ours (the
 * method too: Node's parser only accepts known method tokens).
 */
export function accessLine(
  fields: string,
  method: string,
  host: string,
  urlPath: string,
  status: number,
  durationMs: number,
  bytesIn: number,
  bytesOut: number,
  requestId: string,
  ip: string,
): string {
  return (
    `{"time":"${isoNow()}",${fields},"method":"${method}","host":${JSON.stringify(host)},` +
    `"path":${JSON.stringify(urlPath)},"status":${status},"durationMs":${Math.round(durationMs * 100) / 100},` +
    `"bytesIn":${bytesIn},"bytesOut":${bytesOut},"requestId":${JSON.stringify(requestId)},"ip":"${ip}"}\n`
  );
}

/**
 * One service's log file and its unwritten lines. Lines are encoded into a preallocated buffer as they come
 * (no string kept per request, so nothing survives into the old generation until the write); a buffer that
 * fills up, or the flush timer, hands it to the writer. Writes go one at a time, in order.
 */
export class AccessLogFile {
  /** The buffer lines are appended to (null until the first line after a write took it) and its used bytes. */
  private chunk: Buffer | null = null;
  private used = 0;
  /** Buffers (or parts) handed to the writer, oldest first. */
  private queue: Buffer[] = [];
  /** Bytes appended and not yet written. */
  private pending = 0;
  /** A written buffer kept for reuse, so a busy log does not allocate one per write. */
  private spare: Buffer | null = null;
  private handle: fs.promises.FileHandle | null = null;
  private size = -1;
  private writing = false;
  /** No longer in the current table: lines of requests still finishing are written at once, then closed. */
  private detached = false;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly owner: AccessLog,
    readonly file: string,
    readonly rotated: string,
  ) {}

  /** Unwritten bytes (queued or still in the current buffer). */
  get buffered(): number {
    return this.pending;
  }

  append(line: string): void {
    if (this.pending > this.owner.maxBufferedBytes) {
      this.owner.dropped++;
      return;
    }
    let chunk = this.chunk;
    // UTF-8 needs at most 3 bytes per UTF-16 unit: the exact length is only computed near the end of a buffer.
    if (chunk === null || (line.length * 3 > chunk.length - this.used && !this.fits(chunk, line))) {
      chunk = this.nextChunk(line);
      if (chunk === null) {
        this.appended();
        return;
      }
    }
    const n = chunk.write(line, this.used, 'utf8');
    this.used += n;
    this.pending += n;
    this.appended();
  }

  private fits(chunk: Buffer, line: string): boolean {
    return Buffer.byteLength(line, 'utf8') <= chunk.length - this.used;
  }

  /**
   * Queues the current buffer and returns an empty one for line; null when line was queued on its own
   * (longer than a buffer).
   */
  private nextChunk(line: string): Buffer | null {
    this.retire();
    const size = this.owner.flushBytes;
    if (line.length * 3 > size && Buffer.byteLength(line, 'utf8') > size) {
      const own = Buffer.allocUnsafeSlow(Buffer.byteLength(line, 'utf8'));
      own.write(line, 0, 'utf8');
      this.queue.push(own);
      this.pending += own.length;
      return null;
    }
    const chunk = this.spare ?? Buffer.allocUnsafeSlow(size);
    this.spare = null;
    this.chunk = chunk;
    this.used = 0;
    return chunk;
  }

  /** Moves the current buffer's lines to the write queue. */
  private retire(): void {
    const chunk = this.chunk;
    if (chunk === null) return;
    this.chunk = null;
    if (this.used > 0) this.queue.push(this.used === chunk.length ? chunk : chunk.subarray(0, this.used));
    else this.spare = chunk;
    this.used = 0;
  }

  private appended(): void {
    if (this.detached) {
      this.owner.track(this); // a late line of a finishing request: flush() must wait for it
      this.flush();
    } else if (this.queue.length > 0) {
      this.write();
    } else {
      this.owner.flushLater();
    }
  }

  /** Starts writing everything appended so far (after the write in flight, if any). */
  flush(): void {
    this.retire();
    this.write();
  }

  private write(): void {
    if (this.writing || this.queue.length === 0) return;
    this.writing = true;
    const bufs = this.queue;
    this.queue = [];
    let bytes = 0;
    for (const b of bufs) bytes += b.length;
    void this.writeOut(bufs).then(
      () => this.written(bufs, bytes),
      (err: Error) => {
        this.owner.log(`access log ${this.file}: ${err.message}; ${bytes} bytes of lines dropped`);
        this.closeFd();
        this.written(bufs, bytes);
      },
    );
  }

  /** Resolves once everything appended so far is on disk (or failed). */
  flushed(): Promise<void> {
    if (!this.writing && this.pending === 0) return Promise.resolve();
    const p = new Promise<void>((resolve) => this.waiters.push(resolve));
    this.flush();
    return p;
  }

  private written(bufs: Buffer[], bytes: number): void {
    this.writing = false;
    this.pending -= bytes;
    // A full buffer is kept for the next lines; a partial one (timer flush: little traffic) is let go.
    const last = bufs[bufs.length - 1];
    if (this.spare === null && last.length === this.owner.flushBytes && last.byteOffset === 0)
      this.spare = last;
    if (
      this.queue.length > 0 ||
      (this.waiters.length > 0 && this.used > 0) ||
      (this.detached && this.used > 0)
    ) {
      this.flush();
      return;
    }
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
    if (this.detached) {
      this.closeFd();
      this.owner.forget(this);
    }
  }

  detach(): void {
    this.detached = true;
    if (this.writing) return; // written() closes it
    if (this.pending > 0) this.flush();
    else {
      this.closeFd();
      this.owner.forget(this);
    }
  }

  private async writeOut(bufs: Buffer[]): Promise<void> {
    for (const bytes of bufs) {
      if (this.handle === null) await this.open();
      if (this.size > 0 && this.size + bytes.length > this.owner.maxBytes) {
        this.closeFd();
        await fs.promises.rename(this.file, this.rotated);
        await this.open();
      }
      const h = this.handle as fs.promises.FileHandle;
      let off = 0;
      while (off < bytes.length) off += (await h.write(bytes, off)).bytesWritten;
      this.size += bytes.length;
    }
  }

  private async open(): Promise<void> {
    await fs.promises.mkdir(path.dirname(this.file), { recursive: true });
    const h = await fs.promises.open(this.file, 'a', 0o640);
    this.handle = h;
    this.size = (await h.stat()).size;
  }

  closeFd(): void {
    const h = this.handle;
    this.handle = null;
    if (h !== null) void h.close().catch(() => {});
  }
}

export class AccessLog {
  readonly maxBytes: number;
  readonly flushBytes: number;
  readonly flushMs: number;
  readonly maxBufferedBytes: number;
  readonly log: (msg: string) => void;
  dropped = 0;
  private readonly files = new Map<string, AccessLogFile>();
  /** Files of services that left the table while they still have lines to write. */
  private readonly closing = new Set<AccessLogFile>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly stateDir: string,
    opts: AccessLogOptions = {},
  ) {
    this.maxBytes = opts.maxBytes ?? 16 * 1024 * 1024;
    this.flushBytes = opts.flushBytes ?? 64 * 1024;
    this.flushMs = opts.flushMs ?? 1000;
    this.maxBufferedBytes = opts.maxBufferedBytes ?? 8 * 1024 * 1024;
    this.log = opts.log ?? (() => {});
  }

  /** The file of a service key (created on first use; the proxy keeps it with the deployment's counters). */
  file(key: string): AccessLogFile {
    let f = this.files.get(key);
    if (f === undefined) {
      const [file, rotated] = accessLogFiles(this.stateDir, key);
      f = new AccessLogFile(this, file, rotated);
      this.files.set(key, f);
    }
    return f;
  }

  /** Writes out and closes the files of service keys not in `keys` (services no longer routed). */
  retain(keys: Set<string>): void {
    for (const [key, f] of this.files) {
      if (keys.has(key)) continue;
      this.files.delete(key);
      this.closing.add(f);
      f.detach();
    }
  }

  track(f: AccessLogFile): void {
    this.closing.add(f);
  }

  forget(f: AccessLogFile): void {
    this.closing.delete(f);
  }

  /** Arms the one timer that writes every buffer flushMs after the first unwritten line. */
  flushLater(): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      for (const f of this.files.values()) f.flush();
    }, this.flushMs);
  }

  /** Writes every buffer now; resolves once all of it is on disk. */
  async flush(): Promise<void> {
    await Promise.all([...this.files.values(), ...this.closing].map((f) => f.flushed()));
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    for (const f of this.files.values()) f.closeFd();
  }
}
