/**
 * Streams an object's bytes (inline, or its files in order) into an answer or a hasher, with backpressure, never
 * holding more than one read buffer. The first file is opened before anything is sent, so a concurrent
 * overwrite (which unlinks it) cannot cut a single-file object short.
 */
import fsp from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { ObjectRecord } from '../metadata.js';
import type { ObjectFiles } from '../object-files.js';

const READ_CHUNK = 1024 * 1024;

export interface OpenedObject {
  record: ObjectRecord;
  first: fsp.FileHandle | null;
}

export async function openObject(files: ObjectFiles, record: ObjectRecord): Promise<OpenedObject> {
  const first = record.segments.length ? await fsp.open(files.abs(record.segments[0].file), 'r') : null;
  return { record, first };
}

export async function closeObject(o: OpenedObject): Promise<void> {
  await o.first?.close().catch(() => {});
}

function waitDrain(out: Writable): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      out.off('drain', onDrain);
      out.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    out.on('drain', onDrain);
    out.on('close', onClose);
  });
}

/** Writes bytes [start, end] (inclusive) to out; false when out went away. Does not end out. */
export async function copyRange(
  files: ObjectFiles,
  o: OpenedObject,
  start: number,
  end: number,
  out: Writable | ((chunk: Buffer) => void),
): Promise<boolean> {
  const emit = async (chunk: Buffer): Promise<boolean> => {
    if (typeof out === 'function') {
      out(chunk);
      return true;
    }
    if (out.destroyed) return false;
    if (!out.write(chunk)) return waitDrain(out);
    return true;
  };
  const { record } = o;
  if (record.inline) return end < start ? true : emit(record.inline.subarray(start, end + 1));
  let offset = 0;
  for (let i = 0; i < record.segments.length; i++) {
    const seg = record.segments[i];
    const segStart = offset;
    offset += seg.size;
    if (offset <= start || segStart > end || seg.size === 0) continue;
    const fh = i === 0 && o.first ? o.first : await fsp.open(files.abs(seg.file), 'r');
    try {
      let pos = Math.max(start - segStart, 0);
      const last = Math.min(end - segStart, seg.size - 1);
      while (pos <= last) {
        const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, last - pos + 1));
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        if (bytesRead === 0) throw new Error(`${seg.file} is shorter than its metadata says`);
        pos += bytesRead;
        if (!(await emit(buf.subarray(0, bytesRead)))) return false;
      }
    } finally {
      if (!(i === 0 && o.first)) await fh.close();
    }
  }
  return true;
}
