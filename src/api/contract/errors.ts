import { string } from './schema.js';

/** Every 4xx/5xx answer: `message` is one sentence for the user, which the CLI prints verbatim. */
export const apiErrorSchema = {
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      additionalProperties: false,
      properties: { code: string, message: string },
    },
  },
} as const;
