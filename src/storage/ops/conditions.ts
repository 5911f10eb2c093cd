/** HTTP preconditions as S3 applies them: on reads (304/412) and on writes (If-None-Match: *, If-Match). */
import type { IncomingMessage } from 'node:http';
import { S3Error } from '../errors.js';
import type { ObjectRecord } from '../metadata.js';

function etagList(value: string): string[] {
  return value.split(',').map((s) => s.trim().replace(/^W\//, '').replace(/^"|"$/g, ''));
}

function matches(value: string, etag: string): boolean {
  const list = etagList(value);
  return list.includes('*') || list.includes(etag);
}

/** Seconds precision, as Last-Modified carries it. */
function notAfter(lastModified: number, header: string): boolean | null {
  const t = Date.parse(header);
  if (Number.isNaN(t)) return null;
  return Math.floor(lastModified / 1000) * 1000 <= t;
}

/** 'ok', 304 or 412 for a GET/HEAD of this object (RFC 7232's order). */
export function readPrecondition(
  h: { ifMatch?: string; ifNoneMatch?: string; ifModifiedSince?: string; ifUnmodifiedSince?: string },
  o: ObjectRecord,
): 'ok' | 304 | 412 {
  if (h.ifMatch !== undefined) {
    if (!matches(h.ifMatch, o.etag)) return 412;
  } else if (h.ifUnmodifiedSince !== undefined && notAfter(o.lastModified, h.ifUnmodifiedSince) === false) {
    return 412;
  }
  if (h.ifNoneMatch !== undefined) {
    if (matches(h.ifNoneMatch, o.etag)) return 304;
  } else if (h.ifModifiedSince !== undefined && notAfter(o.lastModified, h.ifModifiedSince) === true) {
    return 304;
  }
  return 'ok';
}

export function readHeaders(req: IncomingMessage) {
  const s = (v: string | string[] | undefined) => (typeof v === 'string' ? v : undefined);
  return {
    ifMatch: s(req.headers['if-match']),
    ifNoneMatch: s(req.headers['if-none-match']),
    ifModifiedSince: s(req.headers['if-modified-since']),
    ifUnmodifiedSince: s(req.headers['if-unmodified-since']),
  };
}

export interface WriteConditions {
  ifNoneMatch?: string;
  ifMatch?: string;
}

export function writeConditions(req: IncomingMessage): WriteConditions {
  const inm = req.headers['if-none-match'];
  const im = req.headers['if-match'];
  if (inm !== undefined && inm !== '*') {
    throw new S3Error('NotImplemented', 'If-None-Match on a write only supports the value *.');
  }
  return { ifNoneMatch: inm, ifMatch: typeof im === 'string' ? im : undefined };
}

/**
 * Checked before the body is read and again inside the commit, against the object as it is then (looked up
 * only when there is a condition).
 */
export function checkWrite(c: WriteConditions, lookup: () => ObjectRecord | null): void {
  if (c.ifNoneMatch === undefined && c.ifMatch === undefined) return;
  const current = lookup();
  if (c.ifNoneMatch === '*' && current) {
    throw new S3Error(
      'PreconditionFailed',
      'At least one of the pre-conditions you specified did not hold.',
      {
        Condition: 'If-None-Match',
      },
    );
  }
  if (c.ifMatch !== undefined) {
    if (!current) throw new S3Error('NoSuchKey', 'The specified key does not exist.');
    if (!matches(c.ifMatch, current.etag)) {
      throw new S3Error(
        'PreconditionFailed',
        'At least one of the pre-conditions you specified did not hold.',
        {
          Condition: 'If-Match',
        },
      );
    }
  }
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` → [start, end] inclusive; null: no usable range (serve it all). */
export function parseRange(value: string | undefined, size: number): [number, number] | null {
  if (!value) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) throw invalidRange(size);
    start = Math.max(size - n, 0);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return null;
  }
  if (start >= size) throw invalidRange(size);
  return [start, end];
}

function invalidRange(size: number): S3Error {
  return new S3Error('InvalidRange', 'The requested range is not satisfiable.', {
    RangeRequested: 'bytes',
    ActualObjectSize: String(size),
  });
}
