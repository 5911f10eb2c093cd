/**
 * Generated HTTP/1 request streams for the differential fuzz test of the built-in edge, and the reference that
 * says where each request ends: llhttp, the parser of Node's own http server, run on the same bytes with the
 * server's settings (strict, http.maxHeaderSize, Host required on HTTP/1.1).
 */

import http from 'node:http';
import { createRequire } from 'node:module';

/** A small seeded PRNG (mulberry32): the same seed gives the same cases. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const chance = (r: Rng, p: number) => r() < p;

export const FUZZ_HOST = 'f.localhost';

/** A request target that names the case and message (`c<id>/<n>`), so the app's records can be attributed. */
function target(r: Rng, id: number, n: number): string {
  const p = `/c${id}/${n}`;
  return pick(r, [p, p, p, `${p}?q=1`, `${p}/%61`, `/${p}`, `http://${FUZZ_HOST}${p}`, `${p}#f`, `${p} x`]);
}

const CL_VALUES = [
  '+N',
  ' N',
  'N ',
  '0N',
  'N, N',
  'N,N',
  '0xN',
  '-1',
  '',
  'N.0',
  '99999999999999999999',
  'N\t',
];
const TE_VALUES = [
  'chunked',
  'chunked',
  'Chunked',
  ' chunked',
  'chunked ',
  'chunked, identity',
  'identity, chunked',
  'gzip, chunked',
  'chunked, chunked',
  'xchunked',
  'chunked;q=1',
  'identity',
  'gzip',
  '\tchunked',
];
const CONNECTION_VALUES = [
  'keep-alive',
  'close',
  'Content-Length',
  'x-a, content-length',
  'Transfer-Encoding',
  'Host',
  'upgrade',
  'keep-alive, close',
];

/** A chunked body for `data`, possibly malformed. */
function chunked(r: Rng, data: string): string {
  let out = '';
  let rest = data;
  while (rest.length > 0) {
    const n = Math.min(rest.length, 1 + Math.floor(r() * 8));
    const size = n.toString(16);
    const line = chance(r, 0.85)
      ? size
      : pick(r, [
          size.toUpperCase(),
          `0${size}`,
          `${size};ext=1`,
          `${size} ;e`,
          ` ${size}`,
          `0x${size}`,
          `-${size}`,
          `${size}\t`,
        ]);
    const eol = chance(r, 0.95) ? '\r\n' : pick(r, ['\n', '\r', '']);
    out += `${line}${eol}${rest.slice(0, n)}${chance(r, 0.95) ? '\r\n' : pick(r, ['\n', '', 'X\r\n'])}`;
    rest = rest.slice(n);
  }
  out += chance(r, 0.9) ? '0\r\n' : pick(r, ['0\n', '00\r\n', '0;x=y\r\n']);
  if (chance(r, 0.1)) out += 'Trailer-A: b\r\n';
  out += chance(r, 0.93) ? '\r\n' : pick(r, ['', '\n']);
  return out;
}

/** One message: head lines and body, valid or subtly not. */
function message(r: Rng, id: number, n: number): string {
  const method = chance(r, 0.9)
    ? pick(r, ['GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH'])
    : pick(r, ['get', 'PROPFIND', 'TRACE', 'G ET']);
  const version = chance(r, 0.92)
    ? 'HTTP/1.1'
    : pick(r, ['HTTP/1.0', 'HTTP/1.2', 'HTTP/2.0', 'http/1.1', 'HTTP/1.1 ']);
  const lines: string[] = [`${method} ${target(r, id, n)} ${version}`];
  const host = chance(r, 0.92);
  if (host)
    lines.push(
      pick(r, [`Host: ${FUZZ_HOST}`, `host: ${FUZZ_HOST}`, `Host:${FUZZ_HOST}`, `Host: ${FUZZ_HOST}:80`]),
    );
  if (chance(r, 0.05))
    lines.push(pick(r, [`Host: ${FUZZ_HOST}`, 'Host: other.localhost', `Host : ${FUZZ_HOST}`]));
  for (let i = Math.floor(r() * 3); i > 0; i--)
    lines.push(pick(r, ['X-A: b', 'Accept: */*', 'X-Forwarded-For: 6.6.6.6']));
  if (chance(r, 0.15)) lines.push(`Connection: ${pick(r, CONNECTION_VALUES)}`);
  if (chance(r, 0.04)) lines.push(pick(r, ['Expect: 100-continue', 'Expect: foo']));
  // Header oddities
  if (chance(r, 0.08)) {
    lines.push(
      pick(r, [
        ' folded',
        '\tfolded',
        'X-B : c',
        'X B: c',
        ': empty',
        'X-C: a\x00b',
        'X-C: a\x7fb',
        'X-C: caf\xe9',
        'X-C: a\x0bb',
        'NoColon',
        `X-Huge: ${'h'.repeat(17 * 1024)}`,
        'X-C:',
        'X-C:  padded  ',
      ]),
    );
  }
  // Framing
  const body = chance(r, 0.5) ? '' : 'B'.repeat(1 + Math.floor(r() * 12));
  let sent = '';
  const f = r();
  if (f < 0.3) {
    if (chance(r, 0.2)) lines.push('Content-Length: 0');
  } else if (f < 0.6) {
    const len = body.length;
    const value = chance(r, 0.75) ? String(len) : pick(r, CL_VALUES).replaceAll('N', String(len));
    lines.push(`${pick(r, ['Content-Length', 'content-length', 'Content-length'])}: ${value}`);
    if (chance(r, 0.1)) lines.push(`Content-Length: ${chance(r, 0.5) ? len : len + 1}`);
    if (chance(r, 0.08)) lines.push(`Transfer-Encoding: ${pick(r, TE_VALUES)}`);
    sent = chance(r, 0.9) ? body : body.slice(0, Math.max(0, body.length - 2)) + pick(r, ['', 'XYZ']);
  } else {
    lines.push(`${pick(r, ['Transfer-Encoding', 'transfer-encoding'])}: ${pick(r, TE_VALUES)}`);
    if (chance(r, 0.1)) lines.push(`Transfer-Encoding: ${pick(r, TE_VALUES)}`);
    if (chance(r, 0.08)) lines.push(`Content-Length: ${body.length}`);
    sent = chunked(r, body);
  }
  if (lines.length > 2 && chance(r, 0.05)) {
    // swap two header lines
    const i = 1 + Math.floor(r() * (lines.length - 1));
    const j = 1 + Math.floor(r() * (lines.length - 1));
    [lines[i], lines[j]] = [lines[j], lines[i]];
  }
  let head = '';
  for (let i = 0; i < lines.length; i++) {
    const eol = chance(r, 0.97) ? '\r\n' : pick(r, ['\n', '\r', '\r\r\n', '\n\r']);
    head += lines[i] + eol;
  }
  head += chance(r, 0.97) ? '\r\n' : pick(r, ['\n', '\r\n\r\n', ' \r\n']);
  return head + sent;
}

/** Case `id` of a seed: one to three pipelined messages, latin1. */
export function fuzzCase(seed: number, id: number): string {
  const r = prng((seed * 1_000_003 + id) >>> 0);
  let s = chance(r, 0.03) ? '\r\n' : '';
  const n = 1 + Math.floor(r() * 3);
  for (let i = 0; i < n; i++) s += message(r, id, i);
  return s;
}

export interface ParsedRequest {
  method: string;
  url: string;
  body: string;
}

export interface Reference {
  /** Complete requests, in order. */
  messages: ParsedRequest[];
  /** How the bytes ended: all consumed, an error (Node's server answers 400 and closes), or mid-message. */
  end: 'complete' | 'error' | 'partial';
  error?: string;
}

interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(buf: Buffer): number | (Error & { code?: string });
  close(): void;
  [k: number]: unknown;
}
interface LlhttpClass {
  new (): LlhttpParser;
  REQUEST: number;
  RESPONSE: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
}

/** llhttp as Node's http module binds it (the parser of http.Server). */
export const HTTPParser = (createRequire(import.meta.url)('_http_common') as { HTTPParser: LlhttpClass })
  .HTTPParser;
/** llhttp reports a method as its index in this list. */
const nodeMethods = (createRequire(import.meta.url)('_http_common') as { methods: string[] }).methods;

/** What Node's http server makes of `bytes` (llhttp, strict, with the server's own Host rule). */
export function reference(bytes: string): Reference {
  const p = new HTTPParser();
  p.initialize(HTTPParser.REQUEST, {}, http.maxHeaderSize, 0);
  const messages: ParsedRequest[] = [];
  let cur: ParsedRequest | null = null;
  let url = '';
  let headers: string[] = [];
  let upgrade = false;
  /** Node's server answers 400 to a HTTP/1.1 request without Host (and closes after it), never emits it. */
  let noHost = false;
  let closes = false;
  p[HTTPParser.kOnHeaders] = (h: string[], u: string) => {
    headers = headers.concat(h);
    url += u;
  };
  p[HTTPParser.kOnHeadersComplete] = (
    major: number,
    minor: number,
    h: string[] | undefined,
    method: number,
    u: string | undefined,
    _status: unknown,
    _message: unknown,
    up: boolean,
  ) => {
    const all = h ?? headers;
    const fullUrl = u ?? url;
    headers = [];
    url = '';
    cur = { method: nodeMethods[method], url: fullUrl, body: '' };
    if (up) upgrade = true;
    const hasHost = all.some((x, i) => i % 2 === 0 && x.toLowerCase() === 'host');
    noHost = major === 1 && minor === 1 && !hasHost;
    if (noHost) closes = true;
    return 0;
  };
  p[HTTPParser.kOnBody] = (b: Buffer) => {
    if (cur !== null) cur.body += b.toString('latin1');
  };
  p[HTTPParser.kOnMessageComplete] = () => {
    if (cur !== null && !noHost) messages.push(cur);
    cur = null;
    // As Node's parserOnMessageComplete: trailers arrive through kOnHeaders, with the url left over.
    url = '';
    headers = [];
  };
  const ret = p.execute(Buffer.from(bytes, 'latin1'));
  p.close();
  if (ret instanceof Error) return { messages, end: 'error', error: ret.code ?? ret.message };
  if (closes) return { messages, end: 'error', error: 'no Host header' };
  if (upgrade) return { messages, end: 'partial', error: 'upgrade' };
  return { messages, end: cur === null ? 'complete' : 'partial' };
}

/** Case `id` of a seed for the response side: one response (maybe after an interim one), latin1. */
export function fuzzResponse(seed: number, id: number): string {
  const r = prng((seed * 7_000_003 + id) >>> 0);
  const s = chance(r, 0.05) ? 'HTTP/1.1 100 Continue\r\n\r\n' : '';
  const status = chance(r, 0.85)
    ? pick(r, [
        '200 OK',
        '200 OK',
        '201 Created',
        '404 Not Found',
        '204 No Content',
        '304 Not Modified',
        '500 Oops',
      ])
    : pick(r, ['200', '200 ', '99 Low', '2000 Big', '101 Switching', '200\tOK', '20 OK', '200 O\x7fK']);
  const version = chance(r, 0.92) ? 'HTTP/1.1' : pick(r, ['HTTP/1.0', 'HTTP/2', 'HTTP/1.2', 'http/1.1']);
  const lines = [`${version} ${status}`];
  for (let i = Math.floor(r() * 3); i > 0; i--)
    lines.push(pick(r, ['X-A: b', 'Content-Type: text/plain', 'Vary: *']));
  if (chance(r, 0.15)) lines.push(`Connection: ${pick(r, CONNECTION_VALUES)}`);
  if (chance(r, 0.08)) {
    lines.push(
      pick(r, [
        ' folded',
        'X-B : c',
        'X B: c',
        ': empty',
        'X-C: a\x00b',
        'X-C: caf\xe9',
        'NoColon',
        'X-C:',
        'Keep-Alive: timeout=5',
      ]),
    );
  }
  const body = chance(r, 0.3) ? '' : 'B'.repeat(1 + Math.floor(r() * 12));
  let sent = '';
  const f = r();
  if (f < 0.15) {
    sent = body; // close-delimited
  } else if (f < 0.6) {
    const len = body.length;
    const value = chance(r, 0.75) ? String(len) : pick(r, CL_VALUES).replaceAll('N', String(len));
    lines.push(`Content-Length: ${value}`);
    if (chance(r, 0.1)) lines.push(`Content-Length: ${chance(r, 0.5) ? len : len + 1}`);
    if (chance(r, 0.08)) lines.push(`Transfer-Encoding: ${pick(r, TE_VALUES)}`);
    sent = chance(r, 0.9) ? body : body.slice(0, Math.max(0, body.length - 2)) + pick(r, ['', 'XYZ']);
  } else {
    lines.push(`Transfer-Encoding: ${pick(r, TE_VALUES)}`);
    if (chance(r, 0.1)) lines.push(`Transfer-Encoding: ${pick(r, TE_VALUES)}`);
    if (chance(r, 0.08)) lines.push(`Content-Length: ${body.length}`);
    sent = chunked(r, body);
  }
  let head = '';
  for (const line of lines) head += line + (chance(r, 0.97) ? '\r\n' : pick(r, ['\n', '\r']));
  head += chance(r, 0.97) ? '\r\n' : pick(r, ['\n', ' \r\n']);
  return s + head + sent + (chance(r, 0.05) ? 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n' : '');
}

export interface ParsedResponse {
  status: number;
  body: string;
}

/**
 * What llhttp makes of a response to a GET (HEAD when `head`) followed by the upstream closing the connection:
 * the final (non-1xx) responses it completes, and whether it stopped on an error.
 */
export function referenceResponse(
  bytes: string,
  head: boolean,
): { responses: ParsedResponse[]; error: string | null } {
  const p = new HTTPParser();
  p.initialize(HTTPParser.RESPONSE, {}, http.maxHeaderSize, 0);
  const responses: ParsedResponse[] = [];
  let cur: ParsedResponse | null = null;
  p[HTTPParser.kOnHeaders] = () => {};
  p[HTTPParser.kOnHeadersComplete] = (
    _ma: number,
    _mi: number,
    _h: unknown,
    _m: unknown,
    _u: unknown,
    status: number,
  ) => {
    cur = { status, body: '' };
    return head || status === 204 || status === 304 || (status >= 100 && status < 200) ? 1 : 0;
  };
  p[HTTPParser.kOnBody] = (b: Buffer) => {
    if (cur !== null) cur.body += b.toString('latin1');
  };
  p[HTTPParser.kOnMessageComplete] = () => {
    if (cur !== null && cur.status >= 200) responses.push(cur);
    cur = null;
  };
  const ret = p.execute(Buffer.from(bytes, 'latin1'));
  let error: string | null = ret instanceof Error ? (ret.code ?? ret.message) : null;
  if (error === null) {
    const fin = (p as unknown as { finish(): unknown }).finish();
    if (fin instanceof Error) error = (fin as Error & { code?: string }).code ?? fin.message;
  }
  p.close();
  if (error === null && cur !== null) error = 'incomplete';
  return { responses, error };
}
