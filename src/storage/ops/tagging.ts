/** Put/Get/DeleteObjectTagging. */
import { sendEmpty, sendXml } from '../respond.js';
import { list, parseXmlBody, text } from '../xml.js';
import { receiveDocument } from './body.js';
import { type OpContext, signed } from './context.js';
import { checkTags } from './object-headers.js';
import { noSuchKey } from './objects.js';

export function getObjectTagging(ctx: OpContext): void {
  const o = ctx.store.meta.getObject(ctx.bucket, ctx.key);
  if (!o) throw noSuchKey(ctx.key);
  sendXml(ctx.res, 200, 'Tagging', { TagSet: { Tag: o.tags.map(([Key, Value]) => ({ Key, Value })) } });
}

export async function putObjectTagging(ctx: OpContext): Promise<void> {
  const doc = parseXmlBody(await receiveDocument(ctx.req, ctx.store.files, signed(ctx).payload), 'Tagging');
  const tagSet = (doc as Record<string, unknown>).TagSet;
  const tags = checkTags(
    list(tagSet, 'Tag').map((t): [string, string] => [text(t, 'Key'), text(t, 'Value')]),
  );
  await setTags(ctx, tags);
  sendEmpty(ctx.res, 200);
}

export async function deleteObjectTagging(ctx: OpContext): Promise<void> {
  await setTags(ctx, []);
  sendEmpty(ctx.res, 204);
}

async function setTags(ctx: OpContext, tags: Array<[string, string]>): Promise<void> {
  const found = await ctx.store.meta.write(() => ctx.store.meta.setTags(ctx.bucket, ctx.key, tags));
  if (!found) throw noSuchKey(ctx.key);
}
