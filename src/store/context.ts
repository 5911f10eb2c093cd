import type { Db } from './db.js';
import type { SecretBox } from './secret-box.js';

/**
 * What every entity module of the store shares: the one database handle (so a transaction spans
 * entities) and the current secret box (swapped in place by a key rotation).
 */
export interface StoreContext {
  readonly db: Db;
  box: SecretBox;
}

export type Row = Record<string, unknown>;

export const now = (): string => new Date().toISOString();
