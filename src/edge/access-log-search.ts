/**
 * Searching a service's access log files (access-log.ts) newest first: the files are read backwards in
 * chunks, so a search for the last 100 lines reads the end of the file, not all of it.
 */

import fs from 'node:fs';
import type { AccessLogEntry } from './access-log.js';

export interface HttpLogQuery {
  /** Most entries returned. */
  limit: number;
  /** `5xx` (a class) or `404` (one status). */
  status?: string;
  /** Path prefix, e.g. `/api`. */
  pathPrefix?: string;
  /** Upper-case method. */
  method?: string;
  requestId?: string;
}

export const STATUS_FILTER = /^[1-5](xx|[0-9]{2})$/;

function matcher(q: HttpLogQuery): (e: AccessLogEntry) => boolean {
  let lo = 0;
  let hi = 999;
  if (q.status !== undefined) {
    if (q.status.endsWith('xx')) {
      lo = Number(q.status[0]) * 100;
      hi = lo + 99;
    } else {
      lo = Number(q.status);
      hi = lo;
    }
  }
  return (e) =>
    e.status >= lo &&
    e.status <= hi &&
    (q.pathPrefix === undefined || e.path.startsWith(q.pathPrefix)) &&
    (q.method === undefined || e.method === q.method) &&
    (q.requestId === undefined || e.requestId === q.requestId);
}

/** Lines of a file from the last to the first (a final partial line, still being written, is skipped). */
async function* linesBackwards(file: string, chunkSize = 64 * 1024): AsyncGenerator<string> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    let pos = (await fh.stat()).size;
    let rest = Buffer.alloc(0);
    let first = true;
    while (pos > 0) {
      const n = Math.min(chunkSize, pos);
      pos -= n;
      const chunk = Buffer.alloc(n);
      await fh.read(chunk, 0, n, pos);
      let buf = Buffer.concat([chunk, rest]);
      if (first) {
        first = false;
        const end = buf.lastIndexOf(10);
        buf = end === -1 ? Buffer.alloc(0) : buf.subarray(0, end);
      }
      let nl = buf.lastIndexOf(10);
      while (nl !== -1) {
        yield buf.subarray(nl + 1).toString('utf8');
        buf = buf.subarray(0, nl);
        nl = buf.lastIndexOf(10);
      }
      rest = Buffer.from(buf);
    }
    if (rest.length > 0) yield rest.toString('utf8');
  } finally {
    await fh.close();
  }
}

/** Entries matching q, newest first, from files given newest first (current, then rotated). */
export async function searchAccessLog(files: string[], q: HttpLogQuery): Promise<AccessLogEntry[]> {
  const match = matcher(q);
  const out: AccessLogEntry[] = [];
  if (q.limit <= 0) return out;
  for (const file of files) {
    for await (const line of linesBackwards(file)) {
      if (line === '') continue;
      let e: AccessLogEntry;
      try {
        e = JSON.parse(line) as AccessLogEntry;
      } catch {
        continue; // a line cut by a crash mid-write
      }
      if (!match(e)) continue;
      out.push(e);
      if (out.length >= q.limit) return out;
    }
  }
  return out;
}
