export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface ParsedLogLine {
  level: LogLevel;
  message: string;
  /** The JSON line's other fields (all but the level and message fields used); absent when none. */
  attributes?: Record<string, unknown>;
}

const LEVEL_NAMES: Record<string, LogLevel> = {
  trace: 'debug',
  debug: 'debug',
  verbose: 'debug',
  silly: 'debug',
  default: 'info',
  info: 'info',
  information: 'info',
  notice: 'info',
  log: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  err: 'error',
  fatal: 'error',
  critical: 'error',
  crit: 'error',
  alert: 'error',
  emerg: 'error',
  emergency: 'error',
  panic: 'error',
};

/** pino: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal. */
function numericLevel(n: number): LogLevel | null {
  if (!Number.isFinite(n)) return null;
  if (n >= 50) return 'error';
  if (n >= 40) return 'warn';
  if (n >= 30) return 'info';
  return 'debug';
}

function toLevel(v: unknown): LogLevel | null {
  if (typeof v === 'number') return numericLevel(v);
  if (typeof v !== 'string') return null;
  const s = v.trim().toLowerCase();
  if (/^\d+$/.test(s)) return numericLevel(Number(s));
  return LEVEL_NAMES[s] ?? null;
}

/**
 * Turns one line an app printed into a log entry. A JSON object line gives its level (pino numbers,
 * or `level` / `severity` names) and message (`msg` / `message`); its other fields become attributes.
 * Anything else is plain text: level 'error' on stderr, 'info' on stdout.
 */
export function parseLogLine(raw: string, stream: 'stdout' | 'stderr'): ParsedLogLine {
  const fallback: LogLevel = stream === 'stderr' ? 'error' : 'info';
  const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  const trimmed = text.trim();
  if (!trimmed.startsWith('{') || !trimmed.endsWith('}')) return { level: fallback, message: text };

  let obj: unknown;
  try {
    obj = JSON.parse(trimmed);
  } catch {
    return { level: fallback, message: text };
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj))
    return { level: fallback, message: text };

  const fields = obj as Record<string, unknown>;
  const fromLevel = toLevel(fields.level);
  const fromSeverity = fromLevel ? null : toLevel(fields.severity);
  const levelField = fromLevel ? 'level' : fromSeverity ? 'severity' : null;
  const level = fromLevel ?? fromSeverity ?? fallback;
  const msgField = 'msg' in fields ? 'msg' : 'message' in fields ? 'message' : null;
  const rawMsg = msgField ? fields[msgField] : undefined;
  const message =
    msgField === null
      ? text
      : typeof rawMsg === 'string'
        ? rawMsg
        : (JSON.stringify(rawMsg) ?? String(rawMsg));

  const attributes: Record<string, unknown> = {};
  let hasAttributes = false;
  for (const [k, v] of Object.entries(fields)) {
    if (k === levelField || k === msgField) continue;
    attributes[k] = v;
    hasAttributes = true;
  }
  return hasAttributes ? { level, message, attributes } : { level, message };
}
