/**
 * A backup target on any S3-compatible endpoint (AWS, R2, MinIO, Garage; the built-in store next) through
 * @aws-sdk/client-s3, imported on first use so a daemon that never backs up to S3 does not carry it.
 */
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { UserError } from '../core/errors.js';
import {
  assertValidKey,
  assertValidPrefix,
  BackupObjectMissing,
  type BackupTarget,
  type StoredObject,
} from './target.js';

export interface S3TargetConfig {
  /** e.g. https://<account>.r2.cloudflarestorage.com; absent: AWS for `region`. */
  endpoint?: string;
  region: string;
  bucket: string;
  /** Keys are stored under this prefix ("berth/backups"); empty: the bucket's root. */
  prefix?: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Path-style URLs (bucket in the path), as MinIO, Garage and local endpoints need. */
  forcePathStyle?: boolean;
}

type S3Module = typeof import('@aws-sdk/client-s3');

/** Parts of a multipart upload: S3's minimum is 5 MiB (all but the last); memory held is one part. */
export const PART_BYTES = 8 * 1024 * 1024;

export class S3Target implements BackupTarget {
  readonly description: string;
  private readonly prefix: string;
  private client: Promise<{ s3: S3Module; client: S3Client }> | null = null;

  constructor(private readonly config: S3TargetConfig) {
    const p = (config.prefix ?? '').replace(/^\/+|\/+$/g, '');
    if (p) assertValidKey(p);
    this.prefix = p ? `${p}/` : '';
    this.description = `s3://${config.bucket}/${this.prefix}${config.endpoint ? ` at ${config.endpoint}` : ''}`;
  }

  private connect(): Promise<{ s3: S3Module; client: S3Client }> {
    this.client ??= import('@aws-sdk/client-s3').then((s3) => ({
      s3,
      client: new s3.S3Client({
        endpoint: this.config.endpoint,
        region: this.config.region,
        forcePathStyle: this.config.forcePathStyle ?? false,
        credentials: { accessKeyId: this.config.accessKeyId, secretAccessKey: this.config.secretAccessKey },
        // Third-party S3 servers reject the SDK's default trailing checksums (data-services.md §4.2).
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        maxAttempts: 3,
      }),
    }));
    return this.client;
  }

  private fullKey(key: string): string {
    assertValidKey(key);
    return this.prefix + key;
  }

  async put(
    key: string,
    body: Readable,
    opts: { signal?: AbortSignal } = {},
  ): Promise<{ sizeBytes: number }> {
    const Key = this.fullKey(key);
    const { s3, client } = await this.connect();
    const Bucket = this.config.bucket;
    const abortSignal = opts.signal;
    const parts = readParts(body, PART_BYTES);
    const first = await parts.next();
    const firstPart = first.done ? Buffer.alloc(0) : first.value;
    const second = first.done ? { done: true as const, value: undefined } : await parts.next();
    if (second.done) {
      await this.call('store', key, () =>
        client.send(new s3.PutObjectCommand({ Bucket, Key, Body: firstPart }), { abortSignal }),
      );
      return { sizeBytes: firstPart.length };
    }
    const created = await this.call('store', key, () =>
      client.send(new s3.CreateMultipartUploadCommand({ Bucket, Key }), { abortSignal }),
    );
    const UploadId = created.UploadId as string;
    const done: { ETag: string; PartNumber: number }[] = [];
    let sizeBytes = 0;
    try {
      const upload = async (part: Buffer) => {
        const PartNumber = done.length + 1;
        const r = await this.call('store', key, () =>
          client.send(new s3.UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: part }), {
            abortSignal,
          }),
        );
        done.push({ ETag: r.ETag as string, PartNumber });
        sizeBytes += part.length;
      };
      await upload(firstPart);
      await upload(second.value);
      for (let p = await parts.next(); !p.done; p = await parts.next()) await upload(p.value);
      await this.call('store', key, () =>
        client.send(
          new s3.CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: done } }),
          { abortSignal },
        ),
      );
    } catch (err) {
      // An incomplete multipart upload keeps its parts (and their cost) until aborted.
      await client.send(new s3.AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => {});
      throw err;
    }
    return { sizeBytes };
  }

  async get(key: string, opts: { signal?: AbortSignal } = {}): Promise<Readable> {
    const Key = this.fullKey(key);
    const { s3, client } = await this.connect();
    try {
      const r = await client.send(new s3.GetObjectCommand({ Bucket: this.config.bucket, Key }), {
        abortSignal: opts.signal,
      });
      if (!r.Body) throw new Error('the response had no body');
      return r.Body as Readable;
    } catch (err) {
      if (isNotFound(err)) throw new BackupObjectMissing(this, key);
      throw this.failure('read', key, err);
    }
  }

  async stat(key: string): Promise<StoredObject | null> {
    const Key = this.fullKey(key);
    const { s3, client } = await this.connect();
    try {
      const r = await client.send(new s3.HeadObjectCommand({ Bucket: this.config.bucket, Key }));
      return { key, sizeBytes: r.ContentLength ?? 0, modifiedAt: r.LastModified ?? new Date(0) };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.failure('read', key, err);
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    assertValidPrefix(prefix);
    const { s3, client } = await this.connect();
    const out: StoredObject[] = [];
    let ContinuationToken: string | undefined;
    do {
      const r = await this.call('list', prefix, () =>
        client.send(
          new s3.ListObjectsV2Command({
            Bucket: this.config.bucket,
            Prefix: this.prefix + prefix,
            ContinuationToken,
          }),
        ),
      );
      for (const o of r.Contents ?? []) {
        if (!o.Key) continue;
        out.push({
          key: o.Key.slice(this.prefix.length),
          sizeBytes: o.Size ?? 0,
          modifiedAt: o.LastModified ?? new Date(0),
        });
      }
      ContinuationToken = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return out;
  }

  async delete(key: string): Promise<void> {
    const Key = this.fullKey(key);
    const { s3, client } = await this.connect();
    await this.call('delete', key, () =>
      client.send(new s3.DeleteObjectCommand({ Bucket: this.config.bucket, Key })),
    );
  }

  async sweep(): Promise<number> {
    const { s3, client } = await this.connect();
    const Bucket = this.config.bucket;
    let removed = 0;
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    do {
      const r = await this.call('list uploads under', this.prefix, () =>
        client.send(
          new s3.ListMultipartUploadsCommand({ Bucket, Prefix: this.prefix, KeyMarker, UploadIdMarker }),
        ),
      );
      for (const u of r.Uploads ?? []) {
        if (!u.Key || !u.UploadId) continue;
        const { Key, UploadId } = u;
        await this.call('abort an upload of', Key, () =>
          client.send(new s3.AbortMultipartUploadCommand({ Bucket, Key, UploadId })),
        );
        removed++;
      }
      KeyMarker = r.IsTruncated ? r.NextKeyMarker : undefined;
      UploadIdMarker = r.IsTruncated ? r.NextUploadIdMarker : undefined;
    } while (KeyMarker);
    return removed;
  }

  private async call<T>(what: string, key: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.failure(what, key, err);
    }
  }

  private failure(what: string, key: string, err: unknown): Error {
    if (err instanceof UserError) return err;
    if ((err as Error).name === 'AbortError') return err as Error;
    const e = err as {
      name?: string;
      message?: string;
      code?: string;
      $metadata?: { httpStatusCode?: number };
    };
    const status = e.$metadata?.httpStatusCode;
    const why = [e.code ?? e.name, status ? `HTTP ${status}` : null, e.message].filter(Boolean).join(': ');
    return new UserError(
      `The backup target ${this.description} could not ${what} "${key}" (${why}); check its endpoint, bucket and keys.`,
      { status: 502, code: 'backup_target_failed', cause: err },
    );
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

/** The stream cut into buffers of exactly `size` bytes, the last one shorter (never empty unless all is). */
export async function* readParts(body: Readable, size: number): AsyncGenerator<Buffer> {
  let held: Buffer[] = [];
  let heldBytes = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    let c = chunk;
    while (heldBytes + c.length >= size) {
      const take = size - heldBytes;
      held.push(c.subarray(0, take));
      yield Buffer.concat(held);
      c = c.subarray(take);
      held = [];
      heldBytes = 0;
    }
    if (c.length > 0) {
      held.push(c);
      heldBytes += c.length;
    }
  }
  if (heldBytes > 0) yield Buffer.concat(held);
}
