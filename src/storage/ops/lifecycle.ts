/** Put/Get/DeleteBucketLifecycleConfiguration. */
import { S3Error } from '../errors.js';
import { lifecycleXml, parseLifecycle } from '../lifecycle.js';
import { sendEmpty, sendXml } from '../respond.js';
import { parseXmlBody } from '../xml.js';
import { receiveDocument } from './body.js';
import { type OpContext, signed } from './context.js';

export function getBucketLifecycle(ctx: OpContext): void {
  const stored = ctx.store.meta.lifecycle(ctx.bucket);
  if (!stored) {
    throw new S3Error('NoSuchLifecycleConfiguration', 'The lifecycle configuration does not exist.', {
      BucketName: ctx.bucket,
    });
  }
  sendXml(ctx.res, 200, 'LifecycleConfiguration', lifecycleXml(JSON.parse(stored)));
}

export async function putBucketLifecycle(ctx: OpContext): Promise<void> {
  const doc = parseXmlBody(
    await receiveDocument(ctx.req, ctx.store.files, signed(ctx).payload),
    'LifecycleConfiguration',
  );
  const rules = parseLifecycle(doc);
  await ctx.store.meta.write(() => ctx.store.meta.setLifecycle(ctx.bucket, JSON.stringify(rules)));
  sendEmpty(ctx.res, 200);
}

export async function deleteBucketLifecycle(ctx: OpContext): Promise<void> {
  await ctx.store.meta.write(() => ctx.store.meta.setLifecycle(ctx.bucket, null));
  sendEmpty(ctx.res, 204);
}
