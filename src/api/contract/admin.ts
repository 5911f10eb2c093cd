import { boolean, integer, type Static, string } from './schema.js';

export const healthSchema = {
  type: 'object',
  required: ['ok', 'version'],
  additionalProperties: false,
  properties: { ok: boolean, version: string },
} as const;
export type Health = Static<typeof healthSchema>;

export const rotatedKeySchema = {
  type: 'object',
  required: ['oldKeyId', 'newKeyId', 'values'],
  additionalProperties: false,
  properties: {
    oldKeyId: string,
    newKeyId: string,
    /** Stored values re-encrypted under the new key. */
    values: integer,
  },
} as const;
export type RotatedKey = Static<typeof rotatedKeySchema>;
