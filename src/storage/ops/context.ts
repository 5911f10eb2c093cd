/** What every operation gets: the store, the request as parsed and authenticated, and the answer to write. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Signer } from '../auth.js';
import type { S3Request } from '../request.js';
import type { Store } from '../store.js';

export interface OpContext {
  store: Store;
  req: IncomingMessage;
  res: ServerResponse;
  s3: S3Request;
  /** null for the unsigned reads public buckets allow. */
  signer: Signer | null;
  bucket: string;
  key: string;
  now: number;
}

export function signed(ctx: OpContext): Signer {
  if (!ctx.signer) throw new Error('operation reached without a signer');
  return ctx.signer;
}
