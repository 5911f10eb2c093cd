/** A public bucket's own host: GET/HEAD of `/<key>`, `index.html` for a path ending in `/`, never a listing. */
import { S3Error } from '../errors.js';
import type { OpContext } from './context.js';
import { sendObject } from './objects.js';

export async function websiteGet(ctx: OpContext, head: boolean): Promise<void> {
  const key =
    ctx.s3.key === '' || ctx.s3.key?.endsWith('/') ? `${ctx.s3.key ?? ''}index.html` : (ctx.s3.key ?? '');
  const record = ctx.store.meta.getObject(ctx.bucket, key);
  if (!record) {
    // `/docs` with a `docs/index.html`: the browser goes to `/docs/` so relative links resolve (as S3 sites do).
    if (key && !key.endsWith('/') && ctx.store.meta.getObject(ctx.bucket, `${key}/index.html`)) {
      // A key's leading slashes are escaped: `//host/` would send the browser to another site.
      const location = `/${encodeURI(key).replace(/^\/+/, (m) => '%2F'.repeat(m.length))}/`;
      ctx.res.writeHead(302, { location, 'content-length': 0 });
      ctx.res.end();
      return;
    }
    throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: key });
  }
  await sendObject(ctx, record, head);
}
