/**
 * A file's lines from the last to the first, read synchronously in blocks from the end, so the last few lines
 * of a log of any size cost a few blocks of memory and I/O rather than the whole file.
 */

import fs from 'node:fs';

const BLOCK = 64 * 1024;
/** Longer lines are skipped rather than gathered, so memory stays bounded whatever the file holds. */
const MAX_LINE = 8 * 1024 * 1024;
const NEWLINE = 10;
const EMPTY = Buffer.alloc(0);

/**
 * Lines without their '\n' ('\r' is kept), newest first. A final line without a newline (still being
 * written, or torn by a crash) is skipped. A missing file yields nothing. Reads only up to the size the
 * file had when opened, so a writer appending meanwhile cannot make it run forever.
 */
export function* linesBackwards(file: string, blockSize = BLOCK): Generator<string> {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    let pos = fs.fstatSync(fd).size;
    // Skipping the unterminated last line (or an overlong one) until the newline before it.
    let skipping = true;
    // The end of a line whose start lies further back.
    let rest = EMPTY;
    while (pos > 0) {
      const n = Math.min(blockSize, pos);
      pos -= n;
      const block = Buffer.allocUnsafe(n);
      fs.readSync(fd, block, 0, n, pos);
      const buf = rest.length > 0 ? Buffer.concat([block, rest]) : block;
      let end = buf.length;
      if (skipping) {
        end = buf.lastIndexOf(NEWLINE);
        if (end === -1) continue;
        skipping = false;
      }
      let nl = end > 0 ? buf.lastIndexOf(NEWLINE, end - 1) : -1;
      while (nl !== -1) {
        yield buf.toString('utf8', nl + 1, end);
        end = nl;
        nl = end > 0 ? buf.lastIndexOf(NEWLINE, end - 1) : -1;
      }
      if (end > MAX_LINE) {
        skipping = true;
        rest = EMPTY;
      } else {
        // A copy: the rest of this block is not needed any more.
        rest = Buffer.from(buf.subarray(0, end));
      }
    }
    if (!skipping) yield rest.toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}
