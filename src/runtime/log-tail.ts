import fs from 'node:fs';
import path from 'node:path';

/** Fallback poll: fs.watch can miss events (and cannot watch a directory that does not exist yet). */
const POLL_MS = 1000;
const READ_CHUNK = 64 * 1024;
/** A "line" longer than this without a newline is emitted as it is, so memory stays bounded. */
const MAX_LINE_BYTES = 1024 * 1024;
const EMPTY = Buffer.alloc(0);
/** A tick reads for at most this long, then rests as long before reading on, so a flood cannot hog the loop. */
const SLICE_MS = 20;
/** When the writer is too far ahead, the newest this many bytes of its backlog are kept. */
const KEEP_ON_DROP = 256 * 1024;

export interface LogTailOptions {
  /**
   * Empty the file (truncate to 0) once this many bytes were read and everything in it was consumed. The writer
   * must hold it with O_APPEND (it then writes at the new end). When the writer gets further ahead than this,
   * what it wrote in between is dropped (onDropped), so the file stays within about twice this size.
   */
  truncateAfterBytes?: number;
  onDropped?: (bytes: number) => void;
}

/**
 * Follows a growing file from a byte offset and emits complete lines (without '\n' or '\r\n').
 * A partial trailing line is held back until its newline arrives. The file may not exist yet;
 * if it shrinks (truncated) or is replaced (another inode), reading restarts at 0.
 * offset() is the byte position just after the last emitted line: a new LogTail started from it
 * emits no line twice. Watches the file's directory with fs.watch, plus a slow poll.
 * onLine should not throw; if it does, the error is ignored and tailing continues.
 * With truncateAfterBytes the reader also keeps the file small (see LogTailOptions): bytes written between
 * its last look at the size and the truncation are lost, a window of a few microseconds.
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
  /** Set while a backlog waits for the next slice; events meanwhile do not start another read. */
  private resume: NodeJS.Timeout | null = null;
  private closed = false;
  private draining = false;
  private readonly opts: LogTailOptions;

  constructor(file: string, fromOffset: number, onLine: (line: string) => void, opts: LogTailOptions = {}) {
    this.file = path.resolve(file);
    this.onLine = onLine;
    this.opts = opts;
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
    if (this.resume) clearTimeout(this.resume);
    this.resume = null;
    this.watcher?.close();
    this.watcher = null;
    this.pending = EMPTY;
  }

  /** Reads whatever is in the file now, synchronously, and emits its complete lines. */
  drain(): void {
    this.read(Number.POSITIVE_INFINITY);
  }

  /** Reads up to the size the file has now, for at most sliceMs; true when more is left to read. */
  private read(sliceMs: number): boolean {
    if (this.closed || this.draining) return false;
    this.draining = true;
    try {
      let fd: number;
      let writable = Boolean(this.opts.truncateAfterBytes);
      try {
        fd = fs.openSync(this.file, writable ? 'r+' : 'r');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return false;
        if (!writable || (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS')) throw err;
        // Readable but not ours to truncate: follow it without keeping it small rather than not at all.
        fd = fs.openSync(this.file, 'r');
        writable = false;
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
        const until = Date.now() + sliceMs;
        // Only up to the size seen now: a writer that never stops cannot keep this loop going. A slice also
        // reads at most the cap, so a larger backlog is dropped rather than worked through.
        const stop =
          Number.isFinite(sliceMs) && this.opts.truncateAfterBytes
            ? Math.min(st.size, readPos + this.opts.truncateAfterBytes)
            : st.size;
        while (readPos < stop && Date.now() < until) {
          if (this.closed) return false;
          const n = fs.readSync(fd, buf, 0, Math.min(READ_CHUNK, stop - readPos), readPos);
          if (n <= 0) break;
          readPos += n;
          this.consume(buf.subarray(0, n));
        }
        if (this.closed) return false;
        if (writable && this.opts.truncateAfterBytes) this.keepSmall(fd, this.opts.truncateAfterBytes);
        return this.pos + this.pending.length < st.size;
      } finally {
        fs.closeSync(fd);
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * Empties the file once all of it was read (and at least cap bytes were), or, when the writer is more than
   * cap ahead, keeps only the newest KEEP_ON_DROP bytes of the backlog: they are read into memory, the file is
   * emptied, then their lines are emitted. The newest lines survive a flood; those before them are dropped.
   */
  private keepSmall(fd: number, cap: number): void {
    const read = this.pos + this.pending.length;
    let size = fs.fstatSync(fd).size;
    if (size - read <= cap) {
      if (read >= cap && size === read && this.pending.length === 0) {
        fs.ftruncateSync(fd, 0);
        this.pos = 0;
      }
      return;
    }
    const keep = Math.min(KEEP_ON_DROP, cap);
    let from = size - keep;
    let kept = readRange(fd, from, size);
    // Catch up with what is written meanwhile, so the truncation loses as little as possible.
    for (let i = 0; i < 3; i++) {
      const now = fs.fstatSync(fd).size;
      if (now === size) break;
      if (now - from > keep) {
        from = now - keep;
        kept = readRange(fd, from, now);
      } else {
        kept = Buffer.concat([kept, readRange(fd, size, now)]);
      }
      size = now;
    }
    fs.ftruncateSync(fd, 0);
    // The kept bytes start inside a line and may end inside one: both fragments are dropped too.
    const first = kept.indexOf(10) + 1;
    const last = kept.lastIndexOf(10) + 1;
    const complete = first > 0 && last > first ? kept.subarray(first, last) : EMPTY;
    const dropped = size - this.pos - complete.length;
    this.pos = 0;
    this.pending = EMPTY;
    try {
      this.opts.onDropped?.(dropped);
    } catch {
      /* like onLine */
    }
    // consume() counts what it emits into pos, but none of it is in the emptied file.
    this.consume(complete);
    this.pos = 0;
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
    if (this.closed || this.resume) return;
    if (!this.watcher) this.startWatch();
    let more = false;
    try {
      more = this.read(SLICE_MS);
    } catch {
      /* unreadable right now (permissions, I/O); the next event or poll retries */
    }
    if (more && !this.closed) {
      this.resume = setTimeout(() => {
        this.resume = null;
        this.tick();
      }, SLICE_MS);
      this.resume.unref();
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

function readRange(fd: number, from: number, to: number): Buffer {
  const buf = Buffer.allocUnsafe(Math.max(0, to - from));
  let off = 0;
  while (off < buf.length) {
    const n = fs.readSync(fd, buf, off, buf.length - off, from + off);
    if (n <= 0) break;
    off += n;
  }
  return buf.subarray(0, off);
}
