/** Which operation a request is: method, bucket/key, and sub-resource query names, as S3 routes them. */
import { S3Error } from '../errors.js';
import { getBucketLocation, headBucket, listBuckets, refuseBucketChange } from './buckets.js';
import type { OpContext } from './context.js';
import { deleteObject, getObject, putObject } from './objects.js';
import { websiteGet } from './website.js';

/** Query names that make a request something other than a plain object read. */
export const SUBRESOURCES = [
  'acl',
  'cors',
  'delete',
  'lifecycle',
  'list-type',
  'location',
  'partNumber',
  'policy',
  'tagging',
  'uploadId',
  'uploads',
  'versioning',
  'versions',
  'website',
];

function notImplemented(what: string): never {
  throw new S3Error('NotImplemented', `${what} is not implemented by Berth's object store.`);
}

export async function dispatch(ctx: OpContext): Promise<void> {
  const { s3, req } = ctx;
  const method = req.method ?? 'GET';
  const p = s3.params;
  if (s3.website) return websiteGet(ctx, method === 'HEAD');
  if (s3.bucket === null) {
    if (method === 'GET') return listBuckets(ctx);
    throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.');
  }
  if (!ctx.store.buckets.has(s3.bucket)) {
    if (method === 'PUT' && s3.key === null && p.size === 0) refuseBucketChange();
    throw new S3Error('NoSuchBucket', 'The specified bucket does not exist.', { BucketName: s3.bucket });
  }
  if (s3.key === null) return bucketOperation(ctx, method);
  return objectOperation(ctx, method);
}

async function bucketOperation(ctx: OpContext, method: string): Promise<void> {
  const p = ctx.s3.params;
  switch (method) {
    case 'HEAD':
      return headBucket(ctx);
    case 'GET':
      if (p.has('location')) return getBucketLocation(ctx);
      return notImplemented('This bucket operation');
    case 'PUT':
      if (p.size === 0) refuseBucketChange();
      return notImplemented('This bucket operation');
    case 'DELETE':
      if (p.size === 0) refuseBucketChange();
      return notImplemented('This bucket operation');
  }
  throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.');
}

async function objectOperation(ctx: OpContext, method: string): Promise<void> {
  switch (method) {
    case 'GET':
      return getObject(ctx, false);
    case 'HEAD':
      return getObject(ctx, true);
    case 'PUT':
      return putObject(ctx);
    case 'DELETE':
      return deleteObject(ctx);
  }
  throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.');
}
