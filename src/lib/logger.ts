/**
 * The daemon's log: one JSON object per line on stdout, in pino's shape (`level` 30/40/50, ISO `time`, the
 * given fields, `msg`; an `err` field becomes `{type, message, stack}`), so log tooling that reads pino
 * output reads it. pino itself is ~4 MB of a process that stays resident for a dozen log calls.
 */

export interface Logger {
  info(msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  warn(msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

const LEVELS = { info: 30, warn: 40, error: 50 } as const;

function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const out: Record<string, unknown> = { type: err.constructor.name, message: err.message, stack: err.stack };
  for (const [k, v] of Object.entries(err)) if (!(k in out)) out[k] = v;
  return out;
}

/** A logger writing lines to `write` (stdout by default); `silent` drops everything (tests). */
export function createLogger(opts: { silent?: boolean; write?: (line: string) => void } = {}): Logger {
  const write = opts.write ?? ((line: string) => process.stdout.write(line));
  const at =
    (level: keyof typeof LEVELS) =>
    (a: string | Record<string, unknown>, msg?: string): void => {
      if (opts.silent) return;
      const fields = typeof a === 'string' ? {} : a;
      const entry: Record<string, unknown> = { level: LEVELS[level], time: new Date().toISOString() };
      for (const [k, v] of Object.entries(fields)) entry[k] = k === 'err' ? serializeError(v) : v;
      entry.msg = typeof a === 'string' ? a : msg;
      let line: string;
      try {
        line = JSON.stringify(entry);
      } catch {
        // A field that does not serialize (a cycle) must not lose the message.
        line = JSON.stringify({ level: entry.level, time: entry.time, msg: entry.msg });
      }
      write(`${line}\n`);
    };
  return { info: at('info'), warn: at('warn'), error: at('error') };
}
