import { boolean, nullableInteger, type Static, string } from './schema.js';

/** `berth db sleep --after N` (seconds) or `berth db sleep off` (null). */
export const dataSleepBodySchema = {
  type: 'object',
  required: ['afterSeconds'],
  additionalProperties: false,
  properties: { afterSeconds: { type: ['integer', 'null'], minimum: 1 } },
} as const;
export type DataSleepBody = Static<typeof dataSleepBodySchema>;

/** A database's scale-to-zero setting and whether it sleeps now. */
export const dataSleepSchema = {
  type: 'object',
  required: ['service', 'afterSeconds', 'asleep', 'message'],
  additionalProperties: false,
  properties: {
    service: string,
    /** Idle seconds before it sleeps; null: it never sleeps (the default). */
    afterSeconds: nullableInteger,
    asleep: boolean,
    message: string,
  },
} as const;
export type DataSleepView = Static<typeof dataSleepSchema>;
