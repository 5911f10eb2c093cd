/** Buckets: object storage services (`berth bucket …`), one bucket per environment, served by the built-in store. */
import { boolean, nullableString, type Static, string, stringList, timestamp } from './schema.js';

export const createBucketBodySchema = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1 },
    /** Public-read: objects served unsigned through the edge at the bucket's own URL (never listing, never writes). */
    public: boolean,
  },
} as const;
export type CreateBucketBody = Static<typeof createBucketBodySchema>;

export const updateBucketBodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { public: boolean },
} as const;
export type UpdateBucketBody = Static<typeof updateBucketBodySchema>;

export const renameBucketBodySchema = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: { type: 'string', minLength: 1 } },
} as const;
export type RenameBucketBody = Static<typeof renameBucketBodySchema>;

/** `berth bucket lifecycle NAME --expire-days N [--prefix P]`: one expiration rule (replaces the bucket's rules). */
export const bucketLifecycleBodySchema = {
  type: 'object',
  required: ['expireDays'],
  additionalProperties: false,
  properties: {
    expireDays: { type: 'integer', minimum: 1, maximum: 36500 },
    prefix: string,
  },
} as const;
export type BucketLifecycleBody = Static<typeof bucketLifecycleBodySchema>;

export const bucketLifecycleRuleSchema = {
  type: 'object',
  required: ['id', 'prefix', 'expireDays', 'abortIncompleteMultipartDays'],
  additionalProperties: false,
  properties: {
    id: string,
    prefix: string,
    expireDays: { type: ['integer', 'null'] },
    abortIncompleteMultipartDays: { type: ['integer', 'null'] },
  },
} as const;

export const bucketLifecycleSchema = {
  type: 'object',
  required: ['bucket', 'rules'],
  additionalProperties: false,
  properties: { bucket: string, rules: { type: 'array', items: bucketLifecycleRuleSchema } },
} as const;
export type BucketLifecycle = Static<typeof bucketLifecycleSchema>;

/** The methods a browser may be allowed (S3's CORS AllowedMethod). */
export const CORS_METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'HEAD'] as const;
export type CorsMethod = (typeof CORS_METHODS)[number];

/**
 * `berth bucket cors set`: one rule that replaces the bucket's CORS rules. An origin is `https://host[:port]`
 * with at most one `*` (`https://*.example.com`), or `*` for any.
 */
export const bucketCorsBodySchema = {
  type: 'object',
  required: ['origins'],
  additionalProperties: false,
  properties: {
    origins: {
      type: 'array',
      minItems: 1,
      maxItems: 100,
      items: { type: 'string', minLength: 1, maxLength: 1024, pattern: '^[^*]*\\*?[^*]*$' },
    },
    methods: { type: 'array', minItems: 1, items: { type: 'string', enum: CORS_METHODS } },
    maxAgeSeconds: { type: 'integer', minimum: 0, maximum: 2147483647 },
  },
} as const;
export type BucketCorsBody = Static<typeof bucketCorsBodySchema>;

export const bucketCorsRuleSchema = {
  type: 'object',
  required: ['id', 'allowedOrigins', 'allowedMethods', 'allowedHeaders', 'exposeHeaders', 'maxAgeSeconds'],
  additionalProperties: false,
  properties: {
    id: string,
    allowedOrigins: stringList,
    allowedMethods: stringList,
    allowedHeaders: stringList,
    exposeHeaders: stringList,
    maxAgeSeconds: { type: ['integer', 'null'] },
  },
} as const;

/** A bucket's CORS rules as the store holds them, in the order they are matched ([] when it has none). */
export const bucketCorsSchema = {
  type: 'object',
  required: ['bucket', 'rules'],
  additionalProperties: false,
  properties: { bucket: string, rules: { type: 'array', items: bucketCorsRuleSchema } },
} as const;
export type BucketCors = Static<typeof bucketCorsSchema>;

/** A bucket in one environment; its keys are in `…/credentials` and its variables. */
export const bucketSchema = {
  type: 'object',
  required: [
    'service',
    'environment',
    's3Name',
    'endpoint',
    'region',
    'public',
    'publicUrl',
    'customDomains',
    'accessKeyId',
    'createdAt',
  ],
  additionalProperties: false,
  properties: {
    /** The display name (the service's name). */
    service: string,
    environment: string,
    /** The name S3 clients use (AWS_S3_BUCKET_NAME): the display name and a short hash, unique on the server. */
    s3Name: string,
    /** AWS_ENDPOINT_URL: the storage host through the edge (path-style and `<s3Name>.<host>` both work). */
    endpoint: string,
    region: string,
    public: boolean,
    /** Where a public bucket's objects are served unsigned; null while private. */
    publicUrl: nullableString,
    /** Custom domains (`berth domain DOMAIN -s NAME`), served while the bucket is public. */
    customDomains: stringList,
    accessKeyId: string,
    createdAt: timestamp,
  },
} as const;
export type BucketView = Static<typeof bucketSchema>;

export const bucketListSchema = { type: 'array', items: bucketSchema } as const;
export type BucketList = Static<typeof bucketListSchema>;

export const bucketCredentialsSchema = {
  type: 'object',
  required: ['bucket', 'endpoint', 'region', 'accessKeyId', 'secretAccessKey'],
  additionalProperties: false,
  properties: {
    bucket: string,
    endpoint: string,
    region: string,
    accessKeyId: string,
    secretAccessKey: string,
    /** After a reset: the services whose variables referenced the old keys, redeployed with the new ones. */
    redeployed: stringList,
  },
} as const;
export type BucketCredentials = Static<typeof bucketCredentialsSchema>;

export const deletedBucketSchema = {
  type: 'object',
  required: ['service', 'environment', 's3Name', 'serviceDeleted'],
  additionalProperties: false,
  properties: {
    service: string,
    environment: string,
    s3Name: string,
    /** The last environment's bucket went, and the service with it. */
    serviceDeleted: boolean,
  },
} as const;
export type DeletedBucket = Static<typeof deletedBucketSchema>;
