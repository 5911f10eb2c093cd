/** DeleteObjects: up to 1000 keys in one request, one commit. */
import { S3Error } from '../errors.js';
import { checkKey } from '../request.js';
import { sendXml } from '../respond.js';
import { list, parseXmlBody, text, type XmlObject } from '../xml.js';
import { receiveDocument } from './body.js';
import { type OpContext, signed } from './context.js';

export async function deleteObjects(ctx: OpContext): Promise<void> {
  const { store } = ctx;
  const doc = parseXmlBody(await receiveDocument(ctx.req, store.files, signed(ctx).payload), 'Delete');
  const quiet = text(doc, 'Quiet') === 'true';
  const objects = list(doc, 'Object');
  if (objects.length > 1000)
    throw new S3Error('MalformedXML', 'A DeleteObjects request takes at most 1000 keys.');
  const deleted: XmlObject[] = [];
  const errors: XmlObject[] = [];
  const keys: string[] = [];
  for (const o of objects) {
    const key = text(o, 'Key');
    try {
      if (!key) throw new S3Error('InvalidArgument', 'An Object element has no Key.');
      keys.push(checkKey(key));
    } catch (err) {
      const e = err as S3Error;
      errors.push({ Key: key, Code: e.code, Message: e.message });
    }
  }
  const removed = await store.meta.write(() =>
    keys.flatMap((k) => store.meta.deleteObject(ctx.bucket, k) ?? []),
  );
  await store.files.remove(removed);
  if (!quiet) for (const k of keys) deleted.push({ Key: k });
  sendXml(ctx.res, 200, 'DeleteResult', { Deleted: deleted, Error: errors });
}
