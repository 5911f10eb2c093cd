/**
 * Multipart uploads. Each part is its own fsynced file under parts/<uploadId>/ with a row; completing links the
 * chosen parts' files under the bucket as the object's segments (no bytes copied) and commits the object and
 * the upload's removal in one transaction, so a crash leaves either the upload or the object, never half.
 */

import crypto from 'node:crypto';
import path from 'node:path';
import {
  type ChecksumAlgorithm,
  type ChecksumType,
  checksumHeader,
  compositeChecksum,
  createHasher,
  defaultChecksumType,
  parseChecksumAlgorithm,
} from '../checksums.js';
import { canCombine, combineCrcs } from '../crc-combine.js';
import { S3Error } from '../errors.js';
import type { ObjectRecord, PartRecord, Segment, UploadRecord } from '../metadata.js';
import { isoDate, sendEmpty, sendXml } from '../respond.js';
import { list, parseXmlBody, text, type XmlObject } from '../xml.js';
import { MAX_PUT_SIZE, receiveBody, receiveDocument } from './body.js';
import { checkWrite, parseRange, writeConditions } from './conditions.js';
import { type OpContext, signed } from './context.js';
import { hashObject, parseCopySource } from './copy.js';
import { objectHeadersFrom, parseTaggingHeader } from './object-headers.js';
import { closeObject, copyRange, openObject } from './read.js';

const MIN_PART_SIZE = 5 * 1024 * 1024;
const MAX_PARTS = 10_000;

function noSuchUpload(uploadId: string): S3Error {
  return new S3Error(
    'NoSuchUpload',
    'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
    { UploadId: uploadId },
  );
}

/** The upload named by ?uploadId, in this bucket and for this key. */
function uploadOf(ctx: OpContext): UploadRecord {
  const id = ctx.s3.params.get('uploadId') ?? '';
  // The id names a directory: only what we generate can reach the file system.
  const upload = /^[0-9a-f]{32}$/.test(id) ? ctx.store.meta.getUpload(id) : null;
  if (!upload || upload.bucket !== ctx.bucket || upload.key !== ctx.key) throw noSuchUpload(id);
  return upload;
}

function partNumberOf(ctx: OpContext): number {
  const n = Number(ctx.s3.params.get('partNumber'));
  if (!Number.isInteger(n) || n < 1 || n > MAX_PARTS) {
    throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.');
  }
  return n;
}

export async function createMultipartUpload(ctx: OpContext): Promise<void> {
  const { req } = ctx;
  const algorithmHeader = req.headers['x-amz-checksum-algorithm'] as string | undefined;
  const algorithm = parseChecksumAlgorithm(algorithmHeader);
  if (algorithmHeader && !algorithm) {
    throw new S3Error('InvalidRequest', `x-amz-checksum-algorithm ${algorithmHeader} is not one S3 knows.`);
  }
  const typeHeader = String(req.headers['x-amz-checksum-type'] ?? '').toUpperCase();
  let type: ChecksumType | null = algorithm ? defaultChecksumType(algorithm) : null;
  if (typeHeader) {
    if (!algorithm || (typeHeader !== 'COMPOSITE' && typeHeader !== 'FULL_OBJECT')) {
      throw new S3Error(
        'InvalidRequest',
        'x-amz-checksum-type needs x-amz-checksum-algorithm and is COMPOSITE or FULL_OBJECT.',
      );
    }
    type = typeHeader;
    if (
      (type === 'COMPOSITE' && algorithm === 'CRC64NVME') ||
      (type === 'FULL_OBJECT' && algorithm.startsWith('SHA'))
    ) {
      throw new S3Error('InvalidRequest', `The ${algorithm} checksum does not support the ${type} type.`);
    }
  }
  const upload: UploadRecord = {
    uploadId: crypto.randomBytes(16).toString('hex'),
    bucket: ctx.bucket,
    key: ctx.key,
    initiated: Date.now(),
    ...objectHeadersFrom(req),
    tags: parseTaggingHeader(req.headers['x-amz-tagging'] as string | undefined),
    checksumAlgorithm: algorithm,
    checksumType: type,
  };
  await ctx.store.meta.write(() => ctx.store.meta.createUpload(upload));
  if (algorithm && type) {
    ctx.res.setHeader('x-amz-checksum-algorithm', algorithm);
    ctx.res.setHeader('x-amz-checksum-type', type);
  }
  sendXml(ctx.res, 200, 'InitiateMultipartUploadResult', {
    Bucket: ctx.bucket,
    Key: ctx.key,
    UploadId: upload.uploadId,
  });
}

async function commitPart(ctx: OpContext, upload: UploadRecord, part: PartRecord): Promise<void> {
  const { meta, files } = ctx.store;
  let replaced: string | null;
  try {
    replaced = await meta.write(() => {
      if (!meta.getUpload(upload.uploadId)) throw noSuchUpload(upload.uploadId);
      return meta.putPart(part);
    });
  } catch (err) {
    await files.remove([part.file]);
    throw err;
  }
  if (replaced) await files.remove([replaced]);
}

export async function uploadPart(ctx: OpContext): Promise<void> {
  const upload = uploadOf(ctx);
  const partNumber = partNumberOf(ctx);
  const { files } = ctx.store;
  const body = await receiveBody(ctx.req, {
    files,
    payload: signed(ctx).payload,
    algorithm: upload.checksumAlgorithm,
    inlineMax: 0,
  });
  const file = files.newPartPath(upload.uploadId, partNumber);
  await files.place(body.sink, file);
  const part: PartRecord = {
    uploadId: upload.uploadId,
    partNumber,
    size: body.size,
    etag: body.md5Hex,
    file,
    checksum: body.checksum ? body.checksum.value.toString('base64') : null,
    lastModified: Date.now(),
  };
  await commitPart(ctx, upload, part);
  const headers: Record<string, string> = { etag: `"${part.etag}"` };
  if (body.checksum && part.checksum) headers[checksumHeader(body.checksum.algorithm)] = part.checksum;
  sendEmpty(ctx.res, 200, headers);
}

export async function uploadPartCopy(ctx: OpContext): Promise<void> {
  const upload = uploadOf(ctx);
  const partNumber = partNumberOf(ctx);
  const source = parseCopySource(ctx);
  const { files } = ctx.store;
  const rangeHeader = ctx.req.headers['x-amz-copy-source-range'] as string | undefined;
  const range = rangeHeader ? parseRange(rangeHeader, source.size) : null;
  if (rangeHeader && !range) {
    throw new S3Error('InvalidArgument', 'x-amz-copy-source-range must be bytes=first-last.');
  }
  const [start, end] = range ?? [0, source.size - 1];
  const md5 = createHasher('MD5');
  const sum = upload.checksumAlgorithm ? createHasher(upload.checksumAlgorithm) : null;
  const sink = files.sink(sum ? [md5, sum] : [md5], MAX_PUT_SIZE, 0);
  const finished = new Promise<void>((resolve, reject) => {
    sink.on('finish', resolve);
    sink.on('error', reject);
  });
  const opened = await openObject(files, source);
  try {
    if (end >= start && source.size > 0) await copyRange(files, opened, start, end, sink);
    sink.end();
    await finished;
  } catch (err) {
    await sink.discard();
    throw err;
  } finally {
    await closeObject(opened);
  }
  const file = files.newPartPath(upload.uploadId, partNumber);
  await files.place(sink, file);
  const part: PartRecord = {
    uploadId: upload.uploadId,
    partNumber,
    size: sink.size,
    etag: md5.digest().toString('hex'),
    file,
    checksum: sum ? sum.digest().toString('base64') : null,
    lastModified: Date.now(),
  };
  await commitPart(ctx, upload, part);
  sendXml(ctx.res, 200, 'CopyPartResult', {
    ETag: `"${part.etag}"`,
    LastModified: isoDate(part.lastModified),
    [`Checksum${upload.checksumAlgorithm ?? ''}`]: part.checksum ?? undefined,
  });
}

export async function completeMultipartUpload(ctx: OpContext): Promise<void> {
  const upload = uploadOf(ctx);
  const { meta, files } = ctx.store;
  const conditions = writeConditions(ctx.req);
  const doc = parseXmlBody(
    await receiveDocument(ctx.req, files, signed(ctx).payload),
    'CompleteMultipartUpload',
  );
  const requested = list(doc, 'Part');
  if (requested.length === 0) {
    throw new S3Error('MalformedXML', 'You must specify at least one part to complete a multipart upload.');
  }
  const stored = new Map(meta.listParts(upload.uploadId, 0, MAX_PARTS).map((p) => [p.partNumber, p]));
  const chosen: PartRecord[] = [];
  const algorithm = upload.checksumAlgorithm;
  let previous = 0;
  for (const r of requested) {
    const n = Number(text(r, 'PartNumber'));
    if (!Number.isInteger(n) || n <= previous) {
      throw new S3Error(
        'InvalidPartOrder',
        'The list of parts was not in ascending order. Parts must be ordered by part number.',
      );
    }
    previous = n;
    const part = stored.get(n);
    const etag = text(r, 'ETag').replace(/^"|"$/g, '');
    const givenChecksum = algorithm ? text(r, `Checksum${algorithm}`) : '';
    if (!part || (etag && etag !== part.etag) || (givenChecksum && givenChecksum !== part.checksum)) {
      throw new S3Error(
        'InvalidPart',
        "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
        { PartNumber: String(n) },
      );
    }
    chosen.push(part);
  }
  for (const p of chosen.slice(0, -1)) {
    if (p.size < MIN_PART_SIZE) {
      throw new S3Error(
        'EntityTooSmall',
        'Your proposed upload is smaller than the minimum allowed object size: every part but the last must be at least 5 MiB.',
        {
          PartNumber: String(p.partNumber),
        },
      );
    }
  }
  checkWrite(conditions, () => meta.getObject(ctx.bucket, ctx.key));
  const md5s = Buffer.concat(chosen.map((p) => Buffer.from(p.etag, 'hex')));
  const etag = `${crypto.createHash('md5').update(md5s).digest('hex')}-${chosen.length}`;
  const segments: Segment[] = [];
  for (const p of chosen) {
    const file = files.newObjectPath(ctx.bucket);
    await files.link(p.file, file);
    segments.push({ file, size: p.size });
  }
  const record: ObjectRecord = {
    bucket: ctx.bucket,
    key: ctx.key,
    size: chosen.reduce((s, p) => s + p.size, 0),
    etag,
    lastModified: Date.now(),
    contentType: upload.contentType,
    headers: upload.headers,
    meta: upload.meta,
    checksum: null,
    tags: upload.tags,
    inline: null,
    segments,
    partsCount: chosen.length,
  };
  try {
    record.checksum = await objectChecksum(ctx, record, chosen, algorithm, upload.checksumType);
  } catch (err) {
    await files.remove(segments.map((s) => s.file));
    throw err;
  }
  let replaced: string[];
  try {
    replaced = await meta.write(() => {
      if (!meta.getUpload(upload.uploadId)) throw noSuchUpload(upload.uploadId);
      checkWrite(conditions, () => meta.getObject(ctx.bucket, ctx.key));
      const old = meta.putObject(record);
      meta.deleteUpload(upload.uploadId);
      return old;
    });
  } catch (err) {
    await files.remove(segments.map((s) => s.file));
    throw err;
  }
  await files.remove(replaced);
  await files.removeDir(path.join('parts', upload.uploadId));
  const body: XmlObject = {
    Location: `/${ctx.bucket}/${ctx.key}`,
    Bucket: ctx.bucket,
    Key: ctx.key,
    ETag: `"${etag}"`,
  };
  if (record.checksum) {
    body[`Checksum${record.checksum.algorithm}`] = record.checksum.value;
    body.ChecksumType = record.checksum.type;
  }
  sendXml(ctx.res, 200, 'CompleteMultipartUploadResult', body);
}

async function objectChecksum(
  ctx: OpContext,
  record: ObjectRecord,
  parts: PartRecord[],
  algorithm: ChecksumAlgorithm | null,
  type: ChecksumType | null,
): Promise<ObjectRecord['checksum']> {
  if (!algorithm || !type) return null;
  if (type === 'COMPOSITE') {
    const sums = parts.map((p) => Buffer.from(p.checksum ?? '', 'base64'));
    return { algorithm, type, value: compositeChecksum(algorithm, sums) };
  }
  if (canCombine(algorithm) && parts.every((p) => p.checksum)) {
    const crcs = parts.map((p) => ({ crc: Buffer.from(p.checksum ?? '', 'base64'), length: p.size }));
    return { algorithm, type, value: combineCrcs(algorithm, crcs).toString('base64') };
  }
  return { algorithm, type, value: await hashObject(ctx.store.files, record, algorithm) };
}

export async function abortMultipartUpload(ctx: OpContext): Promise<void> {
  const upload = uploadOf(ctx);
  await ctx.store.meta.write(() => ctx.store.meta.deleteUpload(upload.uploadId));
  await ctx.store.files.removeDir(path.join('parts', upload.uploadId));
  sendEmpty(ctx.res, 204);
}

function intParam(ctx: OpContext, name: string, fallback: number, max: number): number {
  const v = ctx.s3.params.get(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new S3Error('InvalidArgument', `${name} must be a non-negative integer.`);
  return Math.min(n, max);
}

export function listParts(ctx: OpContext): void {
  const upload = uploadOf(ctx);
  const marker = intParam(ctx, 'part-number-marker', 0, MAX_PARTS);
  const maxParts = intParam(ctx, 'max-parts', 1000, 1000);
  const parts = ctx.store.meta.listParts(upload.uploadId, marker, maxParts + 1);
  const truncated = parts.length > maxParts;
  const shown = parts.slice(0, maxParts);
  const owner = { ID: ctx.bucket, DisplayName: ctx.bucket };
  sendXml(ctx.res, 200, 'ListPartsResult', {
    Bucket: ctx.bucket,
    Key: ctx.key,
    UploadId: upload.uploadId,
    Initiator: owner,
    Owner: owner,
    StorageClass: 'STANDARD',
    PartNumberMarker: marker,
    NextPartNumberMarker: shown.length ? shown[shown.length - 1].partNumber : marker,
    MaxParts: maxParts,
    IsTruncated: truncated,
    ChecksumAlgorithm: upload.checksumAlgorithm,
    ChecksumType: upload.checksumType,
    Part: shown.map((p) => ({
      PartNumber: p.partNumber,
      LastModified: isoDate(p.lastModified),
      ETag: `"${p.etag}"`,
      Size: p.size,
      [`Checksum${upload.checksumAlgorithm ?? ''}`]: p.checksum ?? undefined,
    })),
  });
}

export function listMultipartUploads(ctx: OpContext): void {
  const p = ctx.s3.params;
  const prefix = p.get('prefix') ?? '';
  const keyMarker = p.get('key-marker') || null;
  const idMarker = p.get('upload-id-marker') || null;
  const max = intParam(ctx, 'max-uploads', 1000, 1000);
  const uploads = ctx.store.meta.listUploads(ctx.bucket, prefix, keyMarker, idMarker, max + 1);
  const truncated = uploads.length > max;
  const shown = uploads.slice(0, max);
  const last = shown[shown.length - 1];
  const owner = { ID: ctx.bucket, DisplayName: ctx.bucket };
  sendXml(ctx.res, 200, 'ListMultipartUploadsResult', {
    Bucket: ctx.bucket,
    KeyMarker: keyMarker ?? '',
    UploadIdMarker: idMarker ?? '',
    NextKeyMarker: truncated && last ? last.key : undefined,
    NextUploadIdMarker: truncated && last ? last.uploadId : undefined,
    Prefix: prefix,
    MaxUploads: max,
    IsTruncated: truncated,
    Upload: shown.map((u) => ({
      Key: u.key,
      UploadId: u.uploadId,
      Initiator: owner,
      Owner: owner,
      StorageClass: 'STANDARD',
      Initiated: isoDate(u.initiated),
      ChecksumAlgorithm: u.checksumAlgorithm,
      ChecksumType: u.checksumType,
    })),
  });
}
