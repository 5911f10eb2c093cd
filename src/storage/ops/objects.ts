/** PutObject, GetObject, HeadObject, DeleteObject. */
import { checksumHeader } from '../checksums.js';
import { S3Error } from '../errors.js';
import type { ObjectRecord, Segment } from '../metadata.js';
import { sendEmpty } from '../respond.js';
import { receiveBody } from './body.js';
import { checkWrite, parseRange, readHeaders, readPrecondition, writeConditions } from './conditions.js';
import { type OpContext, signed } from './context.js';
import { objectHeadersFrom, objectResponseHeaders, parseTaggingHeader } from './object-headers.js';
import { closeObject, copyRange, openObject } from './read.js';

export function noSuchKey(key: string): S3Error {
  return new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: key });
}

/** Commits an object whose data is in place; removes what it replaced, or its own files if the commit fails. */
export async function commitObject(
  ctx: OpContext,
  record: ObjectRecord,
  check: (current: () => ObjectRecord | null) => void,
): Promise<void> {
  const { meta, files } = ctx.store;
  let replaced: string[];
  try {
    replaced = await meta.write(() => {
      check(() => meta.getObject(record.bucket, record.key));
      return meta.putObject(record);
    });
  } catch (err) {
    await files.remove(record.segments.map((s) => s.file));
    throw err;
  }
  await files.remove(replaced);
}

export async function putObject(ctx: OpContext): Promise<void> {
  const { store, req, bucket, key } = ctx;
  const headers = objectHeadersFrom(req);
  const tags = parseTaggingHeader(req.headers['x-amz-tagging'] as string | undefined);
  const conditions = writeConditions(req);
  checkWrite(conditions, () => store.meta.getObject(bucket, key));
  const body = await receiveBody(req, { files: store.files, payload: signed(ctx).payload });
  const segments: Segment[] = [];
  if (!body.sink.inline) {
    const file = store.files.newObjectPath(bucket);
    await store.files.place(body.sink, file);
    segments.push({ file, size: body.size });
  }
  const record: ObjectRecord = {
    bucket,
    key,
    size: body.size,
    etag: body.md5Hex,
    lastModified: Date.now(),
    ...headers,
    checksum: body.checksum
      ? {
          algorithm: body.checksum.algorithm,
          value: body.checksum.value.toString('base64'),
          type: 'FULL_OBJECT',
        }
      : null,
    tags,
    inline: body.sink.inline,
    segments,
    partsCount: 0,
  };
  await commitObject(ctx, record, (current) => checkWrite(conditions, current));
  const answer: Record<string, string> = { etag: `"${record.etag}"` };
  if (record.checksum) {
    answer[checksumHeader(record.checksum.algorithm)] = record.checksum.value;
    answer['x-amz-checksum-type'] = 'FULL_OBJECT';
  }
  sendEmpty(ctx.res, 200, answer);
}

/** response-content-type & co. on a signed GET (presigned downloads use them). */
const RESPONSE_OVERRIDES = [
  'response-content-type',
  'response-content-language',
  'response-expires',
  'response-cache-control',
  'response-content-disposition',
  'response-content-encoding',
];

export async function getObject(ctx: OpContext, head: boolean): Promise<void> {
  const record = ctx.store.meta.getObject(ctx.bucket, ctx.key);
  if (!record) throw noSuchKey(ctx.key);
  await sendObject(ctx, record, head);
}

export async function sendObject(ctx: OpContext, record: ObjectRecord, head: boolean): Promise<void> {
  const { store, req, res } = ctx;
  const cond = readPrecondition(readHeaders(req), record);
  if (cond === 412) {
    throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold.');
  }
  if (cond === 304) {
    res.writeHead(304, {
      etag: `"${record.etag}"`,
      'last-modified': new Date(record.lastModified).toUTCString(),
    });
    res.end();
    return;
  }
  const range = ctx.s3.params.has('partNumber')
    ? partRange(ctx, record)
    : parseRange(req.headers.range, record.size);
  const checksumMode = String(req.headers['x-amz-checksum-mode'] ?? '').toUpperCase() === 'ENABLED';
  // A checksum of the whole object never goes with part of it.
  const headers = objectResponseHeaders(record, checksumMode && !range);
  if (ctx.signer) {
    for (const name of RESPONSE_OVERRIDES) {
      const v = ctx.s3.params.get(name);
      if (v !== undefined) headers[name.slice('response-'.length)] = v;
    }
  }
  const [start, end] = range ?? [0, record.size - 1];
  headers['content-length'] = record.size === 0 ? 0 : end - start + 1;
  if (range) headers['content-range'] = `bytes ${start}-${end}/${record.size}`;
  if (ctx.s3.params.has('partNumber') && record.partsCount > 0)
    headers['x-amz-mp-parts-count'] = record.partsCount;
  if (head) {
    res.writeHead(range ? 206 : 200, headers);
    res.end();
    return;
  }
  const opened = await openObject(store.files, record);
  try {
    res.writeHead(range ? 206 : 200, headers);
    if (record.size > 0 && !(await copyRange(store.files, opened, start, end, res))) return;
    res.end();
  } finally {
    await closeObject(opened);
  }
}

/** ?partNumber=N: the bytes of part N of a multipart object (its N-th segment); part 1 of any other object is all of it. */
function partRange(ctx: OpContext, record: ObjectRecord): [number, number] | null {
  const n = Number(ctx.s3.params.get('partNumber'));
  const parts = record.partsCount || 1;
  if (!Number.isInteger(n) || n < 1 || n > 10_000) {
    throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.');
  }
  if (n > parts) throw new S3Error('InvalidPartNumber', 'The requested partnumber is not satisfiable.');
  if (record.partsCount === 0) return null;
  let start = 0;
  for (let i = 0; i < n - 1; i++) start += record.segments[i].size;
  const size = record.segments[n - 1].size;
  return size === 0 ? null : [start, start + size - 1];
}

export async function deleteObject(ctx: OpContext): Promise<void> {
  const { meta, files } = ctx.store;
  const conditions = writeConditions(ctx.req);
  const removed = await meta.write(() => {
    checkWrite(conditions, () => meta.getObject(ctx.bucket, ctx.key));
    return meta.deleteObject(ctx.bucket, ctx.key);
  });
  if (removed) await files.remove(removed);
  sendEmpty(ctx.res, 204);
}
