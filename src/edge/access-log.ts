/**
 * The built-in edge's access log: one JSON line per request, appended to one file per service
 * (`DIR/access-logs/<key>.ndjson`, see accessLogFiles). Lines are buffered in memory and written in
 * batches (when a buffer passes flushBytes, or flushMs after the first unwritten line), one write in flight
 * per file, never a synchronous write on the request path. A file past maxBytes is renamed to
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

/** One service's log file and its unwritten lines. */
export class AccessLogFile {
  buf = '';
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

  append(line: string): void {
    if (this.buf.length > this.owner.maxBufferedBytes) {
      this.owner.dropped++;
      return;
    }
    this.buf += line;
    if (this.detached) this.owner.track(this); // a late line of a finishing request: flush() must wait for it
    if (this.detached || this.buf.length >= this.owner.flushBytes) this.flush();
    else this.owner.flushLater();
  }

  /** Starts writing the buffer (unless a write is in flight: it continues with what accumulated). */
  flush(): void {
    if (this.writing || this.buf === '') return;
    this.writing = true;
    const data = this.buf;
    this.buf = '';
    void this.write(data).then(
      () => this.written(),
      (err: Error) => {
        this.owner.log(`access log ${this.file}: ${err.message}; ${data.length} bytes of lines dropped`);
        this.closeFd();
        this.written();
      },
    );
  }

  /** Resolves once everything appended so far is on disk (or failed). */
  flushed(): Promise<void> {
    if (!this.writing && this.buf === '') return Promise.resolve();
    const p = new Promise<void>((resolve) => this.waiters.push(resolve));
    this.flush();
    return p;
  }

  private written(): void {
    this.writing = false;
    if (this.buf !== '') {
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
    if (this.buf !== '') this.flush();
    else {
      this.closeFd();
      this.owner.forget(this);
    }
  }

  private async write(data: string): Promise<void> {
    const bytes = Buffer.from(data, 'utf8');
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
