import { nullableString, type Static, string, timestamp } from './schema.js';

/**
 * The secret of a project token (Railway's RAILWAY_TOKEN): it names its project and environment by id — so a CLI
 * holding only the token knows where to deploy, as Railway's does — then 24 random bytes.
 */
export const PROJECT_TOKEN = /^berth_pt_([0-9a-f-]{36})_([0-9a-f-]{36})_[0-9a-f]{48}$/;

/** What a token is, as the server sees it. */
export const whoamiSchema = {
  anyOf: [
    {
      type: 'object',
      required: ['kind'],
      additionalProperties: false,
      properties: { kind: { const: 'admin' } },
    },
    {
      type: 'object',
      required: ['kind', 'project', 'environment', 'token'],
      additionalProperties: false,
      properties: { kind: { const: 'project' }, project: string, environment: string, token: string },
    },
  ],
} as const;
export type Whoami = Static<typeof whoamiSchema>;

export const tokenSummarySchema = {
  type: 'object',
  required: ['id', 'name', 'environment', 'createdAt', 'lastUsedAt'],
  additionalProperties: false,
  properties: {
    id: string,
    name: string,
    environment: string,
    createdAt: timestamp,
    lastUsedAt: nullableString,
  },
} as const;
export type TokenSummary = Static<typeof tokenSummarySchema>;
export const tokenListSchema = { type: 'array', items: tokenSummarySchema } as const;

export const createdTokenSchema = {
  type: 'object',
  required: [...tokenSummarySchema.required, 'token'],
  additionalProperties: false,
  properties: {
    ...tokenSummarySchema.properties,
    /** The secret, in this answer only. */
    token: string,
  },
} as const;
export type CreatedToken = Static<typeof createdTokenSchema>;

export const createTokenBodySchema = {
  type: 'object',
  properties: {
    environment: { type: 'string', minLength: 1 },
    name: { type: 'string', minLength: 1 },
  },
} as const;
export type CreateTokenBody = Static<typeof createTokenBodySchema>;

export const deletedTokenSchema = {
  type: 'object',
  required: ['deleted'],
  additionalProperties: false,
  properties: { deleted: string },
} as const;
export type DeletedToken = Static<typeof deletedTokenSchema>;
