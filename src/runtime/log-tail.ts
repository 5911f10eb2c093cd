import fs from 'node:fs';
import path from 'node:path';

/** Fallback poll: fs.watch can miss events (and cannot watch a directory that does not exist yet). */
const POLL_MS = 1000;
const READ_CHUNK = 64 * 1024;
/** A "line" longer than this without a newline is emitted as it is, so memory stays bounded. */
const MAX_LINE_BYTES = 1024 * 1024;
const EMPTY = Buffer.alloc(0);

/**
 * Follows a growing file from a byte offset and emits complete lines (without '\n' or '\r\n').
 * A partial trailing line is held back until its newline arrives. The file may not exist yet;
 * if it shrinks (truncated) or is replaced (another inode), reading restarts at 0.
 * offset() is the byte position just after the last emitted line: a new LogTail started from it
 * emits no line twice. Watches the file's directory with fs.watch, plus a slow poll.
 * onLine should not throw; if it does, the error is ignored and tailing continues.
 */
export class LogTail {
  private readonly file: string;
  private readonly onLine: (line: string) => void;
  /** Bytes consumed: end of the last emitted line. */
  private pos: number;
  /** Bytes read after pos that do not end in a newline yet. */
  private pending: Buffer = EMPTY;
  private ino: number | null = null;
  private watcher: fs.FSWatcher | null = null;
  private readonly poll: NodeJS.Timeout;
  private first: NodeJS.Immediate | null;
  private closed = false;
  private draining = false;

  constructor(file: string, fromOffset: number, onLine: (line: string) => void) {
    this.file = path.resolve(file);
    this.onLine = onLine;
    this.pos = Number.isFinite(fromOffset) && fromOffset > 0 ? Math.floor(fromOffset) : 0;
    this.startWatch();
    this.poll = setInterval(() => this.tick(), POLL_MS);
    this.poll.unref();
    // The first read is deferred so onLine is never called before the constructor returns.
    this.first = setImmediate(() => {
      this.first = null;
      this.tick();
    });
  }

  offset(): number {
    return this.pos;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.poll);
    if (this.first) clearImmediate(this.first);
    this.first = null;
    this.watcher?.close();
    this.watcher = null;
    this.pending = EMPTY;
  }

  /** Reads whatever is in the file now, synchronously, and emits its complete lines. */
  drain(): void {
    if (this.closed || this.draining) return;
    this.draining = true;
    try {
      let fd: number;
      try {
        fd = fs.openSync(this.file, 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      try {
        const st = fs.fstatSync(fd);
        if ((this.ino !== null && st.ino !== this.ino) || st.size < this.pos + this.pending.length) {
          // Replaced or truncated: what we consumed is no longer there.
          this.pos = 0;
          this.pending = EMPTY;
        }
        this.ino = st.ino;
        const buf = Buffer.allocUnsafe(READ_CHUNK);
        let readPos = this.pos + this.pending.length;
        for (;;) {
          if (this.closed) return;
          const n = fs.readSync(fd, buf, 0, READ_CHUNK, readPos);
          if (n <= 0) break;
          readPos += n;
          this.consume(buf.subarray(0, n));
        }
      } finally {
        fs.closeSync(fd);
      }
    } finally {
      this.draining = false;
    }
  }

  private consume(chunk: Buffer): void {
    const data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    let start = 0;
    let nl = data.indexOf(10, start);
    while (nl >= 0) {
      const end = nl > start && data[nl - 1] === 13 ? nl - 1 : nl;
      const line = data.toString('utf8', start, end);
      this.pos += nl + 1 - start;
      start = nl + 1;
      this.emit(line);
      if (this.closed) return;
      nl = data.indexOf(10, start);
    }
    // Copy: chunk is a view of a reused read buffer.
    this.pending = start < data.length ? Buffer.from(data.subarray(start)) : EMPTY;
    if (this.pending.length > MAX_LINE_BYTES) {
      const line = this.pending.toString('utf8');
      this.pos += this.pending.length;
      this.pending = EMPTY;
      this.emit(line);
    }
  }

  private emit(line: string): void {
    try {
      this.onLine(line);
    } catch {
      /* see class comment */
    }
  }

  private tick(): void {
    if (this.closed) return;
    if (!this.watcher) this.startWatch();
    try {
      this.drain();
    } catch {
      /* unreadable right now (permissions, I/O); the next event or poll retries */
    }
  }

  /** Watches the directory, not the file: that sees the file appear, grow, shrink and be replaced. */
  private startWatch(): void {
    const dir = path.dirname(this.file);
    const base = path.basename(this.file);
    try {
      const w = fs.watch(dir, { persistent: false }, (_event, name) => {
        if (!name || name.toString() === base) this.tick();
      });
      w.on('error', () => {
        // E.g. the directory was removed; the poll sets up a new watch when it can.
        w.close();
        if (this.watcher === w) this.watcher = null;
      });
      this.watcher = w;
    } catch {
      this.watcher = null;
    }
  }
}
