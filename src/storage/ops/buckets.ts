/** ListBuckets, HeadBucket, GetBucketLocation; CreateBucket/DeleteBucket are the daemon's (`berth bucket`). */
import { S3Error } from '../errors.js';
import { isoDate, sendEmpty, sendXml } from '../respond.js';
import { xmlTextDocument } from '../xml.js';
import { type OpContext, signed } from './context.js';

export function listBuckets(ctx: OpContext): void {
  const bucket = signed(ctx).bucket;
  const created = ctx.store.meta.bucketCreated(bucket.name) ?? ctx.now;
  sendXml(ctx.res, 200, 'ListAllMyBucketsResult', {
    Owner: { ID: bucket.accessKeyId, DisplayName: bucket.name },
    Buckets: { Bucket: [{ Name: bucket.name, CreationDate: isoDate(created) }] },
  });
}

export function headBucket(ctx: OpContext): void {
  sendEmpty(ctx.res, 200, { 'x-amz-bucket-region': ctx.store.config.region });
}

export function getBucketLocation(ctx: OpContext): void {
  const region = ctx.store.config.region;
  // S3 answers an empty constraint for us-east-1.
  const doc = Buffer.from(xmlTextDocument('LocationConstraint', region === 'us-east-1' ? '' : region));
  ctx.res.writeHead(200, { 'content-type': 'application/xml', 'content-length': doc.length });
  ctx.res.end(doc);
}

export function refuseBucketChange(): never {
  throw new S3Error(
    'AccessDenied',
    'Buckets are created and deleted with `berth bucket create` and `berth bucket delete`, not over S3.',
  );
}
