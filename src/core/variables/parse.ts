/**
 * Splits a variable value into literal text and `${{…}}` references (railway-compat §2.1).
 * Only `${{` starts a reference: a lone `$`, `$VAR` and `${VAR}` are literal text.
 */

export interface Reference {
  /** The reference exactly as written, e.g. `${{ shared.KEY }}`. */
  raw: string;
  /** `null` for `${{KEY}}`, `'shared'` for `${{shared.KEY}}`, otherwise the service name as written. */
  scope: string | null;
  key: string;
}

export type Segment = { kind: 'text'; text: string } | { kind: 'ref'; ref: Reference };

export interface ParseProblem {
  problem: 'malformed' | 'unsupported';
  /** The offending reference as written (shortened when unterminated). */
  raw: string;
  /** Rest of the sentence after the reference, e.g. `it has no closing }}`. */
  detail: string;
}

export type ParseResult = { ok: true; segments: Segment[] } | { ok: false; error: ParseProblem };

const OPEN = '${{';
const CLOSE = '}}';
const FUNCTION_CALL = /^[A-Za-z_][A-Za-z0-9_]*\s*\(/;
/** Service names may hold spaces, dashes and dots; keys are split off at the last dot. */
const BAD_SCOPE = /[${}]/;
const BAD_KEY = /[\s${}()]/;
const SNIPPET = 40;

export function hasReference(value: string): boolean {
  return value.includes(OPEN);
}

export function parseValue(value: string): ParseResult {
  const segments: Segment[] = [];
  let pos = 0;
  while (pos < value.length) {
    const start = value.indexOf(OPEN, pos);
    if (start === -1) break;
    if (start > pos) segments.push({ kind: 'text', text: value.slice(pos, start) });
    const end = value.indexOf(CLOSE, start + OPEN.length);
    const inner = end === -1 ? -1 : value.indexOf(OPEN, start + OPEN.length);
    if (end === -1 || (inner !== -1 && inner < end)) {
      const stop = inner === -1 ? value.length : inner;
      const rawFull = value.slice(start, stop).trimEnd();
      const raw = rawFull.length > SNIPPET ? `${rawFull.slice(0, SNIPPET)}…` : rawFull;
      return { ok: false, error: { problem: 'malformed', raw, detail: 'it has no closing }}' } };
    }
    const raw = value.slice(start, end + CLOSE.length);
    const content = value.slice(start + OPEN.length, end).trim();
    const parsed = parseContent(raw, content);
    if ('problem' in parsed) return { ok: false, error: parsed };
    segments.push({ kind: 'ref', ref: parsed });
    pos = end + CLOSE.length;
  }
  if (pos < value.length) segments.push({ kind: 'text', text: value.slice(pos) });
  return { ok: true, segments };
}

function parseContent(raw: string, content: string): Reference | ParseProblem {
  if (content === '') return { problem: 'malformed', raw, detail: 'it names no variable' };
  if (FUNCTION_CALL.test(content)) {
    return {
      problem: 'unsupported',
      raw,
      detail: 'a template function Berth does not support; set the value directly',
    };
  }
  const dot = content.lastIndexOf('.');
  const scope = dot === -1 ? null : content.slice(0, dot).trim();
  const key = content.slice(dot + 1).trim();
  if (key === '' || BAD_KEY.test(key) || (scope !== null && (scope === '' || BAD_SCOPE.test(scope)))) {
    return {
      problem: 'malformed',
      raw,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Railway's reference syntax, not a template.
      detail: 'write ${{KEY}}, ${{shared.KEY}} or ${{Service.KEY}}',
    };
  }
  return { raw, scope, key };
}
