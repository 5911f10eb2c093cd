import { CliError } from './errors.js';

/**
 * A `.env` parser for `berth variables import` (pure; no dependency):
 *
 * - `KEY=VALUE` lines, optionally prefixed with `export `; spaces around the key and `=` are allowed.
 * - Blank lines and lines starting with `#` are skipped.
 * - `'single quoted'` values are literal; `"double quoted"` values understand `\n`, `\"` and `\\`
 *   (any other backslash is kept as written). Quoted values may span lines; after the closing quote
 *   only whitespace or a ` #comment` may follow.
 * - Unquoted values are trimmed, and a `#` preceded by whitespace starts a comment (`a#b` keeps its `#`).
 * - A later assignment of the same key wins.
 *
 * A line that is none of these fails with `SOURCE:LINE: expected KEY=VALUE` (for an unterminated
 * quote, LINE is where the value starts).
 */

const ASSIGNMENT = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/s;
const AFTER_QUOTE = /^\s*(?:#.*)?$/s;

export function parseDotenv(text: string, source = '.env'): Record<string, string> {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const vars: Record<string, string> = {};
  const bad = (index: number) => new CliError(`${source}:${index + 1}: expected KEY=VALUE`);

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const match = ASSIGNMENT.exec(line);
    if (!match) throw bad(i);
    const key = match[1];
    const raw = match[2].replace(/^\s+/, '');
    const quote = raw[0];

    if (quote !== "'" && quote !== '"') {
      const comment = /\s#/.exec(match[2]);
      vars[key] = (comment ? match[2].slice(0, comment.index) : match[2]).trim();
      continue;
    }

    // A quoted value: scan for the closing quote, continuing onto the following lines if needed.
    const start = i;
    let rest = raw.slice(1);
    let value = '';
    for (;;) {
      const end = closingQuote(rest, quote);
      if (end !== -1) {
        value += rest.slice(0, end);
        if (!AFTER_QUOTE.test(rest.slice(end + 1))) throw bad(start);
        break;
      }
      if (i + 1 >= lines.length) throw bad(start);
      value += `${rest}\n`;
      rest = lines[++i];
    }
    vars[key] = quote === '"' ? unescapeDouble(value) : value;
  }
  return vars;
}

/** Index of the closing quote in s (skipping `\"` and `\\` inside double quotes), or -1. */
function closingQuote(s: string, quote: string): number {
  for (let j = 0; j < s.length; j++) {
    if (quote === '"' && s[j] === '\\') j++;
    else if (s[j] === quote) return j;
  }
  return -1;
}

function unescapeDouble(s: string): string {
  return s.replace(/\\([n"\\])/g, (_, c: string) => (c === 'n' ? '\n' : c));
}
