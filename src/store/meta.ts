import type { StoreContext } from './context.js';

/** Table `meta`: daemon-wide values by key (the private network, the ACME account key, the key check). */
export class Meta {
  constructor(private readonly ctx: StoreContext) {}

  find(key: string): string | null {
    const r = this.ctx.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as
      | { value: string }
      | undefined;
    return r?.value ?? null;
  }

  set(key: string, value: string): void {
    this.ctx.db
      .prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      )
      .run(key, value);
  }
}
