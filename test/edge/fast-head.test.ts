/** The fast path's head parser (src/edge/fast-head.ts): what it serves itself, and when it hands a head over. */

import { describe, expect, it } from 'vitest';
import { cannotBeServed, parseFastHead, plausibleStart } from '../../src/edge/fast-head.js';

describe('parseFastHead', () => {
  it('takes a plain request and keeps its headers as sent', () => {
    const h = parseFastHead('GET /a?b=1 HTTP/1.1\r\nHost: x.test\r\nX-Thing:  v a l  \r\nContent-Length: 0');
    expect(h).toEqual({
      method: 'GET',
      url: '/a?b=1',
      raw: ['Host', 'x.test', 'X-Thing', 'v a l', 'Content-Length', '0'],
      close: false,
    });
    expect(parseFastHead('HEAD / HTTP/1.1\r\nhost: x\r\nconnection: keep-alive, close')?.close).toBe(true);
    expect(parseFastHead('DELETE /x HTTP/1.1')).toMatchObject({ method: 'DELETE', raw: [] });
  });

  it('leaves every other request to Node', () => {
    const refused = [
      'GET / HTTP/1.0\r\nHost: x',
      'get / HTTP/1.1\r\nHost: x',
      'PROPFIND / HTTP/1.1\r\nHost: x',
      'GET http://x/ HTTP/1.1\r\nHost: x',
      'GET /a b HTTP/1.1\r\nHost: x',
      'GET /\u00e9 HTTP/1.1\r\nHost: x',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5',
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked',
      'PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue',
      'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade',
      'GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, upgrade',
      'GET / HTTP/1.1\r\nHost: x\r\n folded',
      'GET / HTTP/1.1\r\nBad Name: x',
      'GET / HTTP/1.1\r\n: x',
      'GET / HTTP/1.1\r\nHost x',
      'GET / HTTP/1.1\r\nHost: a\rb',
      'GET / HTTP/1.1\r\nHost: a\nX: b',
      'GET / HTTP/1.1\r\nHost: a\u0000',
      'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0',
      'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\t',
      'GET / HTTP/1.1\r\nHost: x\r\nContent-Length:  0',
      '',
      'GET /',
    ];
    for (const head of refused) expect(parseFastHead(head), JSON.stringify(head)).toBeNull();
  });
});

describe('plausibleStart', () => {
  it('keeps waiting only for heads that may start with a method this path serves', () => {
    for (const s of ['', 'G', 'GE', 'GET', 'GET ', 'OPTIONS /', 'PATCH /x HTTP/1.1\r\n']) {
      expect(plausibleStart(Buffer.from(s, 'latin1')), JSON.stringify(s)).toBe(true);
    }
    for (const s of ['X', 'get', 'PROPFIND /', 'GETX /', 'CONNECT', ' GET /']) {
      expect(plausibleStart(Buffer.from(s, 'latin1')), JSON.stringify(s)).toBe(false);
    }
  });
});

describe('cannotBeServed', () => {
  const check = (s: string, from = 0) => cannotBeServed(Buffer.from(s, 'latin1'), from);

  it('spots bytes no served head contains, so a partial head is handed over at once', () => {
    expect(check('GET / HTTP/1.1\nHost: x')).toBe(true); // bare LF
    expect(check('GET / HTTP/1.1\rHost: x')).toBe(true); // CR without LF
    expect(check('GET / HTTP/1.1\r\nHost: x\r\n folded')).toBe(true); // obs-fold
    expect(check('GET / HTTP/1.1\r\nHost: \u0001')).toBe(true); // control character
  });

  it('keeps waiting for a head that may still end well', () => {
    expect(check('GET / HTTP/1.1\r\nHost: x\r')).toBe(false); // its LF may follow
    expect(check('GET / HTTP/1.1\r\nHost: x\r\n')).toBe(false);
    expect(check('GET / HT')).toBe(false);
  });

  it('checks only from `from` on (a CR just before it may now have its LF)', () => {
    expect(check('GET / HTTP/1.1\r\nHost: x\r\n', 16)).toBe(false);
    expect(check('a\nGET / HTTP/1.1\r\n', 5)).toBe(false);
    // A line's LF ended the previous read; this one starts by folding it.
    expect(check('GET / HTTP/1.1\r\nHost: x\r\n folded', 25)).toBe(true);
  });
});
