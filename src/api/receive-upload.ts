import fs from 'node:fs';
import { PassThrough, type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { UserError } from '../core/errors.js';
import { formatBytes } from '../lib/format-bytes.js';
import type { ApiLimits } from './limits.js';

/**
 * Streams an upload into `file` against the byte cap and both timeouts. A body that is too big, too
 * slow or cut off leaves no file behind: the caller only ever sees a complete upload or an error.
 */
export async function receiveUpload(
  body: Readable,
  file: string,
  limits: Pick<ApiLimits, 'uploadBytes' | 'uploadTimeoutMs' | 'uploadIdleMs'>,
  /** Content-Length, when the client sent one: too big is refused before a byte is read. */
  declaredBytes = 0,
): Promise<void> {
  const tooBig = () =>
    new UserError(
      `The upload is larger than the ${formatBytes(limits.uploadBytes)} this server accepts; leave build output and large files out (.gitignore) and try again.`,
      { status: 413, code: 'payload_too_large' },
    );
  if (declaredBytes > limits.uploadBytes) throw tooBig();
  const ctrl = new AbortController();
  const stop = (err: UserError) => ctrl.abort(err);
  const deadline = setTimeout(
    () =>
      stop(
        new UserError(
          `The upload did not arrive within ${Math.round(limits.uploadTimeoutMs / 1000)}s and was stopped; try again on a faster connection.`,
          { status: 408, code: 'upload_timeout' },
        ),
      ),
    limits.uploadTimeoutMs,
  );
  const idleError = () =>
    new UserError(
      `The upload stalled (nothing arrived for ${Math.round(limits.uploadIdleMs / 1000)}s) and was stopped; try again.`,
      { status: 408, code: 'upload_timeout' },
    );
  let idle = setTimeout(() => stop(idleError()), limits.uploadIdleMs);
  let received = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      received += chunk.length;
      if (received > limits.uploadBytes) return done(tooBig());
      clearTimeout(idle);
      idle = setTimeout(() => stop(idleError()), limits.uploadIdleMs);
      done(null, chunk);
    },
  });
  // The request itself stays out of the pipeline: destroying it would close the connection before the
  // 413/408 answer is written. A refused body is read on and discarded until the answer closes the connection.
  const source = new PassThrough();
  const cutOff = (err?: Error) => source.destroy(err ?? new Error('the upload connection closed early'));
  body.once('error', cutOff);
  body.once('close', () => {
    if (!body.readableEnded) cutOff();
  });
  body.pipe(source);
  try {
    await pipeline(source, count, fs.createWriteStream(file), { signal: ctrl.signal });
  } catch (err) {
    body.unpipe(source);
    body.resume();
    fs.rmSync(file, { force: true });
    if (ctrl.signal.aborted) throw ctrl.signal.reason;
    if (err instanceof UserError) throw err;
    throw new UserError('The upload was cut off before it was complete; nothing was deployed. Try again.', {
      cause: err,
    });
  } finally {
    body.off('error', cutOff);
    clearTimeout(deadline);
    clearTimeout(idle);
  }
}
