/**
 * Log redaction: every occurrence of a secret value becomes `***` before a line is stored or
 * streamed. Which values are secret: sealed ones (the caller knows), values of secret-looking
 * names, and passwords inside URLs (`scheme://user:pass@host`).
 */

export const REDACTED = '***';
/** Shorter values would mangle ordinary log text (`1`, `yes`, `dev`), so they are never redacted. */
export const MIN_SECRET_LENGTH = 4;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** The secret as given, without surrounding whitespace, and as it appears inside a JSON string. */
function variantsOf(secret: string): string[] {
  const trimmed = secret.trim();
  return [secret, trimmed, JSON.stringify(secret).slice(1, -1), JSON.stringify(trimmed).slice(1, -1)];
}

/**
 * A function replacing every occurrence of any of `secrets` with `***`. Values shorter than
 * MIN_SECRET_LENGTH are ignored. Overlapping or nested occurrences are merged into one `***`, so no
 * fragment of either secret survives. One RegExp (escaped alternatives, longest first) scans each
 * text; texts without a secret are returned unchanged. Apply it to whole lines: a secret split
 * across two calls is not found.
 */
export function makeRedactor(secrets: string[]): (text: string) => string {
  const unique = new Set<string>();
  for (const secret of secrets) {
    if (typeof secret !== 'string') continue;
    for (const variant of variantsOf(secret)) if (variant.length >= MIN_SECRET_LENGTH) unique.add(variant);
  }
  if (unique.size === 0) return (text) => text;
  const sorted = [...unique].sort((a, b) => b.length - a.length || (a < b ? -1 : a > b ? 1 : 0));
  const pattern = new RegExp(sorted.map(escapeRegExp).join('|'), 'g');

  return (text: string): string => {
    pattern.lastIndex = 0;
    let match = pattern.exec(text);
    if (match === null) return text;
    const out: string[] = [];
    let cursor = 0;
    let start = match.index;
    let end = match.index + match[0].length;
    for (;;) {
      // Search again from the next character, not from `end`: another secret may start inside
      // this match and run past it.
      pattern.lastIndex = match.index + 1;
      match = pattern.exec(text);
      if (match !== null && match.index < end) {
        end = Math.max(end, match.index + match[0].length);
        continue;
      }
      out.push(text.slice(cursor, start), REDACTED);
      cursor = end;
      if (match === null) break;
      start = match.index;
      end = match.index + match[0].length;
    }
    out.push(text.slice(cursor));
    return out.join('');
  };
}

/** Name checks on `_WORD_WORD_` form (camelCase split, upper-cased, separators → `_`). */
const SECRET_NAME_PATTERNS: readonly RegExp[] = [
  /SECRET/,
  /PASSWORD|PASSWD|PASSPHRASE/,
  /_PASS_/, // DB_PASS, but not BYPASS or PASSPORT
  /TOKEN_/, // a word ending in TOKEN: GITHUB_TOKEN, AUTHTOKEN; not MAX_TOKENS
  /PRIVATE_?KEYS?_/,
  /API_?KEYS?_/,
  /ACCESS_?KEYS?_/,
  /CREDENTIAL/,
  /_AUTH_|_AUTHORIZATION_/, // not AUTHOR (RAILWAY_GIT_AUTHOR)
  /DSN_/,
];

function normalizedName(name: string): string {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toUpperCase()
    .replace(/[^A-Z0-9]+/g, '_');
  return `_${words}_`;
}

/**
 * Whether a variable's name says its value is secret (SECRET, TOKEN, PASSWORD, PASSWD, PASS as a
 * word, PRIVATE_KEY, API_KEY, ACCESS_KEY, CREDENTIALS, AUTH but not AUTHOR, DSN). Case-insensitive;
 * camelCase names are split into words. URLs with a password are caught by secretPartsOf instead.
 */
export function isSecretName(name: string): boolean {
  const normalized = normalizedName(name);
  return SECRET_NAME_PATTERNS.some((pattern) => pattern.test(normalized));
}

/** Values that cannot be a real secret but would blank out common log words if redacted. */
const TRIVIAL_VALUE = /^(true|false|yes|no|on|off|null|none|undefined)$/i;

const URL_AUTHORITY = /[A-Za-z][A-Za-z0-9+.-]*:\/\/([^\s/?#]*)/g;

/** Passwords of every `scheme://user:password@host` in `value`, as written and percent-decoded. */
function urlPasswords(value: string): string[] {
  const found: string[] = [];
  for (const match of value.matchAll(URL_AUTHORITY)) {
    const authority = match[1];
    const at = authority.lastIndexOf('@');
    if (at === -1) continue;
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(':');
    if (colon === -1) continue;
    const password = userinfo.slice(colon + 1);
    if (password === '') continue;
    found.push(password);
    try {
      const decoded = decodeURIComponent(password);
      if (decoded !== password) found.push(decoded);
    } catch {
      // Not valid percent-encoding: the raw form is all an app can print.
    }
  }
  return found;
}

/**
 * The strings to redact for one variable: the whole value (and each line of a multi-line value,
 * such as a PEM key, since logs arrive line by line) when isSecretName(name), except trivial values
 * like `true`; plus the password of every URL with credentials in the value, whatever the name.
 * Empty when nothing needs redacting.
 */
export function secretPartsOf(name: string, value: string): string[] {
  const parts = new Set<string>();
  if (value.trim() === '') return [];
  if (isSecretName(name) && !TRIVIAL_VALUE.test(value.trim())) {
    parts.add(value);
    if (/[\r\n]/.test(value)) {
      for (const line of value.split(/\r?\n|\r/)) {
        const trimmed = line.trim();
        if (trimmed !== '') parts.add(trimmed);
      }
    }
  }
  for (const password of urlPasswords(value)) parts.add(password);
  return [...parts];
}
