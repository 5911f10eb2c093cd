/**
 * What the built-in edge forwards of request and response headers (src/edge/forward-headers.ts): hop-by-hop
 * removal that never removes the framing, X-Forwarded-*, X-Request-Id, the edge's own framing.
 */

import { describe, expect, it } from 'vitest';
import {
  BODY_CHUNKED,
  BODY_LENGTH,
  BODY_NONE,
  connectionTokens,
  dropRequestHeader,
  nextRequestId,
  scanHeaders,
  upgradeHead,
  upstreamHead,
  withoutListed,
} from '../../src/edge/forward-headers.js';

describe('scanHeaders', () => {
  it('notes the host, the forwarded-for chain, request id and cache hints in one pass', () => {
    const sc = scanHeaders('GET', [
      'Host',
      'App.Test:8080',
      'X-Forwarded-For',
      '1.1.1.1',
      'x-forwarded-for',
      '2.2.2.2',
      'X-Request-Id',
      'abc',
      'If-None-Match',
      '"a"',
      'if-none-match',
      '"b"',
      'Accept',
      '*/*',
    ]);
    expect(sc).toMatchObject({
      host: 'App.Test:8080',
      hostKey: 'app.test',
      hosts: 1,
      xff: '1.1.1.1, 2.2.2.2',
      requestId: 'abc',
      inm: '"a", "b"',
      bodyMode: BODY_NONE,
      length: null,
      cacheable: true,
      lookup: true,
    });
    expect(sc.lines).toBe(
      'Host: App.Test:8080\r\nX-Request-Id: abc\r\nIf-None-Match: "a"\r\nif-none-match: "b"\r\nAccept: */*\r\n',
    );
  });

  it('counts Host headers (a second one is refused by the proxy), keeping the first', () => {
    const sc = scanHeaders('GET', ['Host', 'a.test', 'host', 'b.test']);
    expect(sc.hosts).toBe(2);
    expect(sc.hostKey).toBe('a.test');
  });

  it('reads the body framing, and never forwards the client framing lines', () => {
    const len = scanHeaders('POST', ['Host', 'a', 'Content-Length', '5']);
    expect([len.bodyMode, len.length, len.lines]).toEqual([BODY_LENGTH, '5', 'Host: a\r\n']);
    const zero = scanHeaders('POST', ['Host', 'a', 'Content-Length', '0']);
    expect([zero.bodyMode, zero.length]).toEqual([BODY_NONE, '0']);
    const chunked = scanHeaders('POST', ['Host', 'a', 'Transfer-Encoding', 'chunked', 'Content-Length', '5']);
    expect([chunked.bodyMode, chunked.length, chunked.lines]).toEqual([BODY_CHUNKED, null, 'Host: a\r\n']);
  });

  it('leaves the cache alone for other methods, Authorization, and no-cache requests', () => {
    expect(scanHeaders('POST', ['Host', 'a']).cacheable).toBe(false);
    expect(scanHeaders('GET', ['Host', 'a', 'Authorization', 'x']).cacheable).toBe(false);
    expect(scanHeaders('GET', ['Host', 'a', 'Cache-Control', 'No-Cache']).lookup).toBe(false);
    expect(scanHeaders('HEAD', ['Host', 'a', 'Pragma', 'no-cache']).lookup).toBe(false);
    // A Range request is the upstream's to answer (206); its 200 may still refresh nothing (206s are not stored).
    expect(scanHeaders('GET', ['Host', 'a', 'Range', 'bytes=0-3']).lookup).toBe(false);
    expect(scanHeaders('GET', ['Host', 'a', 'Range', 'bytes=0-3']).cacheable).toBe(true);
  });
});

describe('hop-by-hop headers', () => {
  it('drops the hop-by-hop and rebuilt request headers, case-insensitively', () => {
    const dropped = [
      'TE',
      'Expect',
      'Upgrade',
      'Trailer',
      'Connection',
      'Keep-Alive',
      'X-Forwarded-For',
      'X-Forwarded-Host',
      'Proxy-Connection',
      'Transfer-Encoding',
      'x-forwarded-proto',
      'Proxy-Authorization',
    ];
    for (const k of dropped) expect(dropRequestHeader(k), k).toBe(true);
    for (const k of ['Host', 'Content-Length', 'Accept', 'Authorization', 'X-Request-Id']) {
      expect(dropRequestHeader(k), k).toBe(false);
    }
  });

  it('takes the names a Connection header lists, never the framing or Host', () => {
    expect(connectionTokens('keep-alive')).toBeNull();
    expect(connectionTokens('Close')).toBeNull();
    expect(connectionTokens('close, Content-Length, Transfer-Encoding, host, upgrade')).toBeNull();
    expect(connectionTokens('close, X-Secret, ,  Foo ')).toEqual(new Set(['x-secret', 'foo']));
  });

  it('removes from a response the names its Connection header lists', () => {
    const h = ['Content-Type', 'text/plain', 'X-Secret', '1', 'Content-Length', '2'];
    expect(withoutListed(h, null)).toBe(h);
    expect(withoutListed(h, 'keep-alive')).toBe(h);
    expect(withoutListed(h, 'x-secret, content-length')).toEqual([
      'Content-Type',
      'text/plain',
      'Content-Length',
      '2',
    ]);
  });
});

describe('upstreamHead', () => {
  it('adds X-Forwarded-* and the request id after the client lines, with the edge own framing', () => {
    const sc = scanHeaders('GET', [
      'Host',
      'a.test',
      'X-Forwarded-For',
      '9.9.9.9',
      'X-Forwarded-Proto',
      'ftp',
    ]);
    expect(upstreamHead(sc, 'GET', '/x?y', '10.0.0.1', 'https', 'rid-1')).toBe(
      'GET /x?y HTTP/1.1\r\nHost: a.test\r\n' +
        'x-forwarded-for: 9.9.9.9, 10.0.0.1\r\nx-request-id: rid-1\r\n' +
        'x-forwarded-proto: https\r\nx-forwarded-host: a.test\r\n\r\n',
    );
  });

  it('keeps a client request id (no second one) and writes the declared length or chunked', () => {
    const len = scanHeaders('POST', ['Host', 'a', 'X-Request-Id', 'mine', 'Content-Length', '3']);
    expect(upstreamHead(len, 'POST', '/', '::1', 'http', null)).toBe(
      'POST / HTTP/1.1\r\nHost: a\r\nX-Request-Id: mine\r\n' +
        'x-forwarded-for: ::1\r\nx-forwarded-proto: http\r\nx-forwarded-host: a\r\ncontent-length: 3\r\n\r\n',
    );
    const chunked = scanHeaders('POST', ['Host', 'a', 'Transfer-Encoding', 'chunked']);
    expect(upstreamHead(chunked, 'POST', '/', '::1', 'http', null)).toMatch(
      /transfer-encoding: chunked\r\n\r\n$/,
    );
  });

  it('drops the names Connection lists, but still writes a listed Content-Length (no smuggling)', () => {
    const sc = scanHeaders('POST', [
      'Host',
      'a',
      'Connection',
      'close, Content-Length, X-Secret',
      'X-Secret',
      's',
      'Content-Length',
      '4',
    ]);
    const head = upstreamHead(sc, 'POST', '/', '1.2.3.4', 'http', null);
    expect(head).not.toMatch(/x-secret|connection/i);
    expect(head).toBe(
      'POST / HTTP/1.1\r\nHost: a\r\n' +
        'x-forwarded-for: 1.2.3.4\r\nx-forwarded-proto: http\r\nx-forwarded-host: a\r\ncontent-length: 4\r\n\r\n',
    );
  });
});

describe('upgradeHead', () => {
  it('forwards the upgrade headers as sent and rebuilds X-Forwarded-*', () => {
    const u = upgradeHead(
      'GET',
      '/ws',
      [
        'Host',
        'a.test',
        'Connection',
        'Upgrade',
        'Upgrade',
        'websocket',
        'X-Forwarded-Host',
        'evil',
        'X-Request-Id',
        'r',
      ],
      '10.0.0.1',
      'http',
    );
    expect(u).toEqual({
      host: 'a.test',
      hosts: 1,
      text:
        'GET /ws HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nX-Request-Id: r\r\n' +
        'x-forwarded-for: 10.0.0.1\r\nx-forwarded-proto: http\r\nx-forwarded-host: a.test\r\n\r\n',
    });
  });

  it('adds a request id when none came, and counts Host headers', () => {
    const u = upgradeHead(
      'GET',
      '/',
      ['Host', 'a', 'host', 'b', 'X-Forwarded-For', '1.1.1.1'],
      '2.2.2.2',
      'https',
    );
    expect(u.hosts).toBe(2);
    expect(u.host).toBe('a');
    expect(u.text).toMatch(
      /\r\nx-request-id: [0-9a-f]{12}-[0-9a-z]+\r\nx-forwarded-for: 1\.1\.1\.1, 2\.2\.2\.2\r\n/,
    );
  });
});

describe('nextRequestId', () => {
  it('is unique within the process, with one random prefix', () => {
    const a = nextRequestId();
    const b = nextRequestId();
    expect(a).not.toBe(b);
    expect(a.split('-')[0]).toBe(b.split('-')[0]);
    expect(a).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
  });
});
