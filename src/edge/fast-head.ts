/**
 * The fast path's request head parser (pure): which heads fast-http.ts serves itself, and which bytes mean a
 * partial head must go to Node's server at once. Anything it does not accept, Node's http.Server decides on.
 */

import { CONTROL_CHAR, fieldValue, TOKEN } from './http1.js';

/** An origin-form target of visible ASCII. */
const TARGET = /^\/[\x21-\x7e]*$/;
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);
/** A request head the fast path serves. */
export interface FastRequestHead {
  method: string;
  url: string;
  /** Header names and values as received: [name, value, name, value, ...]. */
  raw: string[];
  /** The client asked to close the connection after the response. */
  close: boolean;
}

/** Connection header value lists `token` (case-insensitive). */
function listsToken(v: string, token: string): boolean {
  const l = v.toLowerCase();
  if (l === token) return true;
  if (l.indexOf(token) === -1) return false;
  for (const part of l.split(',')) if (part.trim() === token) return true;
  return false;
}

/** Every prefix of a method this path serves ('' included): a head that starts otherwise goes to Node at once. */
const METHOD_PREFIXES = new Set([...METHODS].flatMap((m) => [...m].map((_, i) => m.slice(0, i)).concat(m)));

/** The start of a partial head could be a request this path serves (a method of METHODS, then a space). */
export function plausibleStart(buf: Buffer): boolean {
  const sp = buf.indexOf(32);
  if (sp === -1) return buf.length < 8 && METHOD_PREFIXES.has(buf.toString('latin1'));
  return sp < 8 && METHODS.has(buf.toString('latin1', 0, sp));
}

/**
 * Bytes from `from` on that no head this path serves contains, so that waiting for its CRLFCRLF could only hang
 * the client until the head timeout: a line feed without its CR, a CR without its LF (a CR as the last byte may
 * still get its LF), a line folded onto the next (obs-fold), a control character.
 */
export function cannotBeServed(buf: Buffer, from: number): boolean {
  // From the byte before `from`: the previous read may have ended on a line's LF, and this one fold it.
  const start = from > 0 ? from - 1 : 0;
  for (let i = buf.indexOf(10, start); i !== -1; i = buf.indexOf(10, i + 1)) {
    if (i === 0 || buf[i - 1] !== 13) return true;
    if (i + 1 < buf.length && (buf[i + 1] === 32 || buf[i + 1] === 9)) return true;
  }
  for (let i = buf.indexOf(13, start); i !== -1; i = buf.indexOf(13, i + 1)) {
    if (i + 1 < buf.length && buf[i + 1] !== 10) return true;
  }
  return CONTROL_CHAR.test(buf.toString('latin1', start));
}

/** The line starting at `from` has no CR or LF but its CRLF end at `eol` (-1: the last line, no end). */
function lineEndsAt(s: string, from: number, eol: number): boolean {
  return s.indexOf('\r', from) === eol && s.indexOf('\n', from) === (eol === -1 ? -1 : eol + 1);
}

/**
 * A request head (without its final CRLFCRLF) this path serves, or null: Node's server must see it (it may be
 * valid but unusual, or malformed — Node decides and answers).
 */
export function parseFastHead(s: string): FastRequestHead | null {
  let eol = s.indexOf('\r\n');
  const lineEnd = eol === -1 ? s.length : eol;
  const sp1 = s.indexOf(' ');
  const sp2 = sp1 === -1 ? -1 : s.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 === -1 || lineEnd - sp2 !== 9 || !s.startsWith('HTTP/1.1', sp2 + 1)) return null;
  const method = s.slice(0, sp1);
  if (!METHODS.has(method)) return null;
  const url = s.slice(sp1 + 1, sp2);
  if (!TARGET.test(url) || CONTROL_CHAR.test(s) || !lineEndsAt(s, 0, eol)) return null;
  const raw: string[] = [];
  let close = false;
  let length = false;
  let p = eol + 2;
  while (eol !== -1) {
    eol = s.indexOf('\r\n', p);
    if (!lineEndsAt(s, p, eol)) return null;
    const end = eol === -1 ? s.length : eol;
    const colon = s.indexOf(':', p);
    if (colon <= p || colon > end) return null;
    const name = s.slice(p, colon);
    if (!TOKEN.test(name)) return null;
    const value = fieldValue(s, colon + 1, end);
    p = end + 2;
    switch (name.length) {
      case 6:
        if (name.toLowerCase() === 'expect') return null;
        break;
      case 7:
        if (name.toLowerCase() === 'upgrade') return null;
        break;
      case 10:
        if (name.toLowerCase() === 'connection') {
          if (listsToken(value, 'upgrade')) return null;
          if (listsToken(value, 'close')) close = true;
        }
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') {
          // Exactly one `0`, as llhttp reads it (it refuses a repeat, or a tab around the value): else Node decides.
          if (length || value !== '0' || colon + 3 < end) return null;
          length = true;
        }
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') return null;
        break;
    }
    raw.push(name, value);
  }
  return { method, url, raw, close };
}
