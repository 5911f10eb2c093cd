/**
 * A background round run every `everyMs` on a timer that does not keep the process alive, never two rounds at
 * once: a tick while a round still runs does nothing. What a round throws goes to `onError`; the next one runs.
 */

export interface PollerOptions {
  everyMs: number;
  round: () => void | Promise<void>;
  onError: (err: unknown) => void;
}

export class Poller {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly opts: PollerOptions) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.opts.everyMs);
    this.timer.unref();
  }

  /** No more rounds; one already running finishes. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Runs a round now, or, when one runs, resolves when that one ends (the timer's tick; tests call it). */
  tick(): Promise<void> {
    if (this.running) return this.running;
    // Started in a microtask, so `running` is set before a round that ends (or throws) synchronously clears it.
    const run = Promise.resolve()
      .then(() => this.opts.round())
      .catch((err: unknown) => this.opts.onError(err))
      .finally(() => {
        this.running = null;
      });
    this.running = run;
    return run;
  }
}
