import { now, type StoreContext } from './context.js';

/** What sleeps: a data service (its engine) or a deployment (its replicas). */
export type SleepSubject = 'data-service' | 'deployment';

export interface SleepState {
  kind: SleepSubject;
  id: string;
  /** A data service's idle period (`berth db sleep --after`); null for deployments (their config has it). */
  afterSeconds: number | null;
  /** Since when it sleeps; null: awake. */
  asleepSince: string | null;
}

interface SleepRow {
  subject_kind: string;
  subject_id: string;
  after_seconds: number | null;
  asleep_since: string | null;
}

function toSleepState(r: SleepRow): SleepState {
  return {
    kind: r.subject_kind as SleepSubject,
    id: r.subject_id,
    afterSeconds: r.after_seconds,
    asleepSince: r.asleep_since,
  };
}

/** Table `sleep_states`: scale to zero per data service or deployment (rows go with their subject). */
export class SleepStates {
  constructor(private readonly ctx: StoreContext) {}

  find(kind: SleepSubject, id: string): SleepState | null {
    const r = this.ctx.db
      .prepare('SELECT * FROM sleep_states WHERE subject_kind = ? AND subject_id = ?')
      .get(kind, id) as SleepRow | undefined;
    return r ? toSleepState(r) : null;
  }

  list(kind: SleepSubject): SleepState[] {
    return (
      this.ctx.db
        .prepare('SELECT * FROM sleep_states WHERE subject_kind = ? ORDER BY subject_id')
        .all(kind) as SleepRow[]
    ).map(toSleepState);
  }

  isAsleep(kind: SleepSubject, id: string): boolean {
    return this.find(kind, id)?.asleepSince != null;
  }

  /** A data service's idle period; null turns sleeping off (the row stays while it still sleeps). */
  setAfter(kind: SleepSubject, id: string, afterSeconds: number | null): void {
    this.ctx.db
      .prepare(
        `INSERT INTO sleep_states (subject_kind, subject_id, after_seconds) VALUES (?, ?, ?)
         ON CONFLICT (subject_kind, subject_id) DO UPDATE SET after_seconds = excluded.after_seconds`,
      )
      .run(kind, id, afterSeconds);
  }

  /** Asleep from now (true) or awake (false). */
  setAsleep(kind: SleepSubject, id: string, asleep: boolean): void {
    this.ctx.db
      .prepare(
        `INSERT INTO sleep_states (subject_kind, subject_id, asleep_since) VALUES (?, ?, ?)
         ON CONFLICT (subject_kind, subject_id) DO UPDATE SET asleep_since = excluded.asleep_since`,
      )
      .run(kind, id, asleep ? now() : null);
  }
}
