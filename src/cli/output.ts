import type { LogLine, StatusEvent } from './client.js';

/** Printing helpers: plain lines, aligned tables, JSON, and dim/bold when stdout is a terminal. */

const colorEnabled = (stream: NodeJS.WriteStream): boolean =>
  Boolean(stream.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb';

function wrap(open: string, close: string, text: string, stream: NodeJS.WriteStream): string {
  return colorEnabled(stream) ? `\x1b[${open}m${text}\x1b[${close}m` : text;
}

export const style = {
  dim: (t: string, stream: NodeJS.WriteStream = process.stdout) => wrap('2', '22', t, stream),
  bold: (t: string, stream: NodeJS.WriteStream = process.stdout) => wrap('1', '22', t, stream),
  red: (t: string, stream: NodeJS.WriteStream = process.stdout) => wrap('31', '39', t, stream),
  green: (t: string, stream: NodeJS.WriteStream = process.stdout) => wrap('32', '39', t, stream),
};

export function print(line = ''): void {
  process.stdout.write(`${line}\n`);
}

export function printErr(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** One compact JSON object per line (NDJSON). */
export function printJsonLine(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

type Cell = string | number | null | undefined;

/** Columns padded to their widest cell; the header is upper-case (and bold on a terminal). */
export function formatTable(headers: string[], rows: Cell[][]): string {
  const text = rows.map((r) =>
    headers.map((_, i) => (r[i] === null || r[i] === undefined ? '-' : String(r[i]))),
  );
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [style.bold(line(headers.map((h) => h.toUpperCase()))), ...text.map(line)].join('\n');
}

export function printTable(headers: string[], rows: Cell[][]): void {
  print(formatTable(headers, rows));
}

/** "3 minutes ago"-style age for a timestamp; falls back to the raw text. */
export function formatAge(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

export function formatSize(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(1)} GB`;
}

/**
 * How one log event reads in a terminal: build lines prefixed `[build]` (dim), system lines and status
 * changes with `==>`, app output as-is.
 */
/** A status change may come from a poll (no `time`) as well as from the log stream. */
export function formatLogEvent(
  event: LogLine | Pick<StatusEvent, 'type' | 'status' | 'reason'>,
  opts: { prefixBuild?: boolean } = {},
): string {
  if (event.type === 'status') {
    return style.bold(`==> ${event.status}${event.reason ? `: ${event.reason}` : ''}`);
  }
  const message = String(event.message ?? '').trimEnd();
  switch (event.stream) {
    case 'build':
      return opts.prefixBuild === false ? message : style.dim(`[build] ${message}`.trimEnd());
    case 'system':
      return style.bold(`==> ${message}`);
    default:
      return message;
  }
}
