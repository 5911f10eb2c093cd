/** Which operation a request is: method, bucket/key, and sub-resource query names, as S3 routes them. */
import { S3Error } from '../errors.js';
import { getBucketLocation, headBucket, listBuckets, refuseBucketChange } from './buckets.js';
import type { OpContext } from './context.js';
import { copyObject } from './copy.js';
import { deleteBucketCors, getBucketCors, putBucketCors } from './cors.js';
import { deleteObjects } from './delete-objects.js';
import { deleteBucketLifecycle, getBucketLifecycle, putBucketLifecycle } from './lifecycle.js';
import { listObjectsV1, listObjectsV2 } from './list.js';
import {
  abortMultipartUpload,
  completeMultipartUpload,
  createMultipartUpload,
  listMultipartUploads,
  listParts,
  uploadPart,
  uploadPartCopy,
} from './multipart.js';
import { deleteObject, getObject, putObject } from './objects.js';
import { deleteObjectTagging, getObjectTagging, putObjectTagging } from './tagging.js';
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
      if (p.has('lifecycle')) return getBucketLifecycle(ctx);
      if (p.has('cors')) return getBucketCors(ctx);
      if (p.has('uploads')) return listMultipartUploads(ctx);
      if (p.get('list-type') === '2') return listObjectsV2(ctx);
      if (p.has('list-type'))
        throw new S3Error('InvalidArgument', 'list-type must be 2 (or absent for version 1).');
      if (SUBRESOURCES.some((n) => p.has(n))) return notImplemented('This bucket operation');
      return listObjectsV1(ctx);
    case 'PUT':
      if (p.has('lifecycle')) return putBucketLifecycle(ctx);
      if (p.has('cors')) return putBucketCors(ctx);
      // Tools that "make sure the bucket exists" (rclone) take this answer as success.
      if (p.size === 0) {
        throw new S3Error(
          'BucketAlreadyOwnedByYou',
          'Your previous request to create the named bucket succeeded and you already own it.',
          {
            BucketName: ctx.bucket,
          },
        );
      }
      return notImplemented('This bucket operation');
    case 'DELETE':
      if (p.has('lifecycle')) return deleteBucketLifecycle(ctx);
      if (p.has('cors')) return deleteBucketCors(ctx);
      if (p.size === 0) refuseBucketChange();
      return notImplemented('This bucket operation');
    case 'POST':
      if (p.has('delete')) return deleteObjects(ctx);
      return notImplemented('This bucket operation');
  }
  throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.');
}

async function objectOperation(ctx: OpContext, method: string): Promise<void> {
  const p = ctx.s3.params;
  const copy = ctx.req.headers['x-amz-copy-source'] !== undefined;
  switch (method) {
    case 'GET':
      if (p.has('uploadId')) return listParts(ctx);
      if (p.has('tagging')) return getObjectTagging(ctx);
      if (p.has('acl') || p.has('attributes')) return notImplemented('This object operation');
      return getObject(ctx, false);
    case 'HEAD':
      return getObject(ctx, true);
    case 'PUT':
      if (p.has('uploadId')) return copy ? uploadPartCopy(ctx) : uploadPart(ctx);
      if (p.has('tagging')) return putObjectTagging(ctx);
      if (p.has('acl')) return notImplemented('Object ACLs');
      return copy ? copyObject(ctx) : putObject(ctx);
    case 'POST':
      if (p.has('uploads')) return createMultipartUpload(ctx);
      if (p.has('uploadId')) return completeMultipartUpload(ctx);
      return notImplemented('This object operation');
    case 'DELETE':
      if (p.has('uploadId')) return abortMultipartUpload(ctx);
      if (p.has('tagging')) return deleteObjectTagging(ctx);
      return deleteObject(ctx);
  }
  throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.');
}
