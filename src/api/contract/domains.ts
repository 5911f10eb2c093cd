import {
  boolean,
  integer,
  nullableInteger,
  nullableString,
  orNull,
  type Static,
  string,
  stringList,
  timestamp,
} from './schema.js';

/** The form a domain is stored and matched in: trimmed, no trailing dot, lower case. */
export function domainKey(input: string): string {
  return input.trim().replace(/\.$/, '').toLowerCase();
}

export const certificateInfoSchema = {
  type: 'object',
  required: ['source', 'notAfter', 'status', 'error'],
  additionalProperties: false,
  properties: {
    source: { type: ['string', 'null'], enum: ['local-ca', 'acme', 'file', null] },
    notAfter: nullableString,
    /** issued | pending | failed | none */
    status: string,
    error: nullableString,
  },
} as const;
export type CertificateInfo = Static<typeof certificateInfoSchema>;

export const serviceDomainsSchema = {
  type: 'object',
  required: ['generated', 'custom'],
  additionalProperties: false,
  properties: {
    generated: {
      type: 'object',
      required: ['hostname', 'url', 'httpsUrl'],
      additionalProperties: false,
      properties: { hostname: string, url: string, httpsUrl: nullableString },
    },
    custom: {
      type: 'array',
      items: {
        type: 'object',
        required: ['hostname', 'url', 'httpsUrl', 'httpsRedirect', 'createdAt', 'certificate'],
        additionalProperties: false,
        properties: {
          hostname: string,
          url: string,
          httpsUrl: nullableString,
          httpsRedirect: boolean,
          createdAt: timestamp,
          certificate: orNull(certificateInfoSchema),
        },
      },
    },
  },
} as const;
export type ServiceDomains = Static<typeof serviceDomainsSchema>;

export const addDomainBodySchema = {
  type: 'object',
  required: ['hostname'],
  additionalProperties: false,
  properties: {
    hostname: { type: 'string', minLength: 1, maxLength: 300 },
    httpsRedirect: { type: 'boolean', default: true },
  },
} as const;
export type AddDomainBody = Static<typeof addDomainBodySchema>;

export const certificateBodySchema = {
  type: 'object',
  required: ['cert', 'key'],
  additionalProperties: false,
  properties: {
    cert: { type: 'string', maxLength: 65536 },
    key: { type: 'string', maxLength: 16384 },
  },
} as const;
export type CertificateBody = Static<typeof certificateBodySchema>;

/** The `[edge]` settings, in the order `berth waf` shows them. */
export const EDGE_KEYS = [
  'rateLimit',
  'rateLimitWindowSeconds',
  'maxBodySize',
  'allowIps',
  'denyIps',
  'denyPaths',
] as const;
const origin = { type: 'string', enum: ['file', 'api', 'default'] } as const;

/** What the edge enforces in front of a service (railway.toml `[edge]`), and where each value came from. */
export const edgePolicyViewSchema = {
  type: 'object',
  required: ['policy', 'origins'],
  additionalProperties: false,
  properties: {
    policy: {
      type: 'object',
      required: EDGE_KEYS,
      additionalProperties: false,
      properties: {
        /** Requests per client IP per window; null = unlimited. */
        rateLimit: nullableInteger,
        rateLimitWindowSeconds: integer,
        /** Largest request body in bytes; null = unlimited. */
        maxBodySize: nullableInteger,
        allowIps: stringList,
        denyIps: stringList,
        denyPaths: stringList,
      },
    },
    origins: {
      type: 'object',
      required: EDGE_KEYS,
      additionalProperties: false,
      properties: {
        rateLimit: origin,
        rateLimitWindowSeconds: origin,
        maxBodySize: origin,
        allowIps: origin,
        denyIps: origin,
        denyPaths: origin,
      },
    },
  },
} as const;
export type EdgePolicyView = Static<typeof edgePolicyViewSchema>;

/** Keys of `[edge]` to change (null clears one); the server checks each value and names a bad key. */
export const edgePolicyPatchSchema = { type: 'object' } as const;
export type EdgePolicyPatch = Record<string, unknown>;
