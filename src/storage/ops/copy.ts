/**
 * CopyObject: the source (x-amz-copy-source, percent-decoded) must be in the signer's own bucket; its files are
 * hard-linked, not copied. Metadata and tags are copied or replaced as the directives say.
 */
import type { IncomingMessage } from 'node:http';
import { checksumHeader, createHasher, parseChecksumAlgorithm } from '../checksums.js';
import { S3Error } from '../errors.js';
import type { ObjectRecord, StoredChecksum } from '../metadata.js';
import type { ObjectFiles } from '../object-files.js';
import { checkKey } from '../request.js';
import { isoDate, sendXml } from '../respond.js';
import { checkWrite, readPrecondition, writeConditions } from './conditions.js';
import { type OpContext, signed } from './context.js';
import { objectHeadersFrom, parseTaggingHeader } from './object-headers.js';
import { commitObject, noSuchKey } from './objects.js';
import { closeObject, copyRange, openObject } from './read.js';

/** `/bucket/key` or `bucket/key`, percent-encoded, maybe with `?versionId=`. */
export function parseCopySource(ctx: OpContext): ObjectRecord {
  const raw = String(ctx.req.headers['x-amz-copy-source'] ?? '');
  const noVersion = raw.split('?')[0];
  let decoded: string;
  try {
    decoded = decodeURIComponent(noVersion).replace(/^\//, '');
  } catch {
    throw new S3Error('InvalidArgument', 'x-amz-copy-source has a broken percent-encoding.');
  }
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) {
    throw new S3Error('InvalidArgument', 'x-amz-copy-source must be bucket/key.');
  }
  const bucket = decoded.slice(0, slash);
  const key = checkKey(decoded.slice(slash + 1));
  if (bucket !== signed(ctx).bucket.name) {
    throw new S3Error('AccessDenied', "Access Denied: this key pair cannot read the copy source's bucket.");
  }
  const record = ctx.store.meta.getObject(bucket, key);
  if (!record) throw noSuchKey(key);
  const cond = readPrecondition(
    {
      ifMatch: header(ctx.req, 'x-amz-copy-source-if-match'),
      ifNoneMatch: header(ctx.req, 'x-amz-copy-source-if-none-match'),
      ifModifiedSince: header(ctx.req, 'x-amz-copy-source-if-modified-since'),
      ifUnmodifiedSince: header(ctx.req, 'x-amz-copy-source-if-unmodified-since'),
    },
    record,
  );
  if (cond !== 'ok') {
    throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold.');
  }
  return record;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

/** Reads an object through a hasher (a checksum in an algorithm it was not stored with). */
export async function hashObject(
  files: ObjectFiles,
  record: ObjectRecord,
  algorithm: StoredChecksum['algorithm'],
) {
  const h = createHasher(algorithm);
  const opened = await openObject(files, record);
  try {
    if (record.size > 0) await copyRange(files, opened, 0, record.size - 1, (c) => h.update(c));
  } finally {
    await closeObject(opened);
  }
  return h.digest().toString('base64');
}

export async function copyObject(ctx: OpContext): Promise<void> {
  const { store, req, bucket, key } = ctx;
  const source = parseCopySource(ctx);
  const metaDirective = (header(req, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  const tagDirective = (header(req, 'x-amz-tagging-directive') ?? 'COPY').toUpperCase();
  if (!['COPY', 'REPLACE'].includes(metaDirective) || !['COPY', 'REPLACE'].includes(tagDirective)) {
    throw new S3Error('InvalidArgument', 'The metadata and tagging directives must be COPY or REPLACE.');
  }
  const wantAlgorithm = parseChecksumAlgorithm(header(req, 'x-amz-checksum-algorithm'));
  if (source.bucket === bucket && source.key === key && metaDirective === 'COPY' && !wantAlgorithm) {
    throw new S3Error(
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  const conditions = writeConditions(req);
  checkWrite(conditions, () => store.meta.getObject(bucket, key));
  const described = metaDirective === 'REPLACE' ? objectHeadersFrom(req) : source;
  let checksum = source.checksum;
  if (wantAlgorithm && wantAlgorithm !== source.checksum?.algorithm) {
    checksum = {
      algorithm: wantAlgorithm,
      value: await hashObject(store.files, source, wantAlgorithm),
      type: 'FULL_OBJECT',
    };
  }
  const segments = [];
  for (const seg of source.segments) {
    const file = store.files.newObjectPath(bucket);
    await store.files.link(seg.file, file);
    segments.push({ file, size: seg.size });
  }
  const record: ObjectRecord = {
    ...source,
    bucket,
    key,
    lastModified: Date.now(),
    contentType: described.contentType,
    headers: described.headers,
    meta: described.meta,
    tags: tagDirective === 'REPLACE' ? parseTaggingHeader(header(req, 'x-amz-tagging')) : source.tags,
    checksum,
    segments,
  };
  await commitObject(ctx, record, (current) => checkWrite(conditions, current));
  if (checksum) ctx.res.setHeader(checksumHeader(checksum.algorithm), checksum.value);
  sendXml(ctx.res, 200, 'CopyObjectResult', {
    ETag: `"${record.etag}"`,
    LastModified: isoDate(record.lastModified),
    ChecksumType: checksum?.type,
    [`Checksum${checksum?.algorithm ?? ''}`]: checksum ? checksum.value : undefined,
  });
}
