import { describe, expect, it } from 'vitest';
import { ResponseParser } from '../../src/edge/http1.js';

interface Parsed {
  heads: { status: number; reason: string; headers: string[] }[];
  body: string;
  ends: number;
  error: string | null;
  keepAlive: boolean;
  contentLength: number;
}

/** Feeds `raw` to a parser in pieces of `step` bytes (0 = all at once), then optionally signals EOF. */
function parse(
  raw: string,
  opts: { step?: number; eof?: boolean; head?: boolean; maxHeader?: number } = {},
): Parsed {
  const out: Parsed = { heads: [], body: '', ends: 0, error: null, keepAlive: true, contentLength: -1 };
  const parser = new ResponseParser(
    {
      onResponseHead: (status, reason, headers) => out.heads.push({ status, reason, headers }),
      onResponseData: (chunk) => {
        out.body += chunk.toString('latin1');
      },
      onResponseEnd: () => {
        out.ends++;
      },
    },
    opts.maxHeader ?? 16 * 1024,
  );
  parser.reset(opts.head ?? false);
  const buf = Buffer.from(raw, 'latin1');
  const step = opts.step || buf.length;
  for (let i = 0; i < buf.length && out.error === null; i += step) {
    const err = parser.execute(buf.subarray(i, i + step));
    if (err) out.error = (err as Error & { code?: string }).code ?? err.message;
  }
  if (opts.eof && out.error === null) {
    const fin = parser.finish();
    if (fin === 'empty') out.error = 'empty';
    else if (fin) out.error = (fin as Error & { code?: string }).code ?? fin.message;
  }
  out.keepAlive = parser.keepAlive;
  out.contentLength = parser.contentLength;
  return out;
}

const steps = [0, 1, 3, 7];

describe('ResponseParser', () => {
  it.each(steps)('frames a Content-Length body, whatever the packet boundaries (step %i)', (step) => {
    const r = parse('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello', {
      step,
    });
    expect(r.error).toBeNull();
    expect(r.heads).toEqual([
      { status: 200, reason: 'OK', headers: ['Content-Type', 'text/plain', 'Content-Length', '5'] },
    ]);
    expect(r.body).toBe('hello');
    expect(r.ends).toBe(1);
    expect(r.keepAlive).toBe(true);
    expect(r.contentLength).toBe(5);
  });

  it.each(steps)('decodes a chunked body with extensions and trailers (step %i)', (step) => {
    const raw =
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '5;ext=1\r\nhello\r\nA\r\n, world!!!\r\n0\r\nX-Trailer: t\r\n\r\n';
    const r = parse(raw, { step });
    expect(r.error).toBeNull();
    expect(r.body).toBe('hello, world!!!');
    expect(r.heads[0]?.headers).toEqual([]); // Transfer-Encoding is hop-by-hop
    expect(r.ends).toBe(1);
    expect(r.keepAlive).toBe(true);
  });

  it('drops hop-by-hop fields and the names Connection lists, keeping end-to-end ones as received', () => {
    const r = parse(
      'HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: timeout=3\r\nSet-Cookie: a=1\r\n' +
        'Set-Cookie: b=2\r\nX-Hop: 1\r\nProxy-Connection: x\r\nUpgrade: h2c\r\nContent-Length:   0  \r\n\r\n',
    );
    expect(r.error).toBeNull();
    // X-Hop stays in the list: the proxy removes Connection-listed names (it gets connectionHeader for that).
    expect(r.heads[0]?.headers).toEqual([
      'Set-Cookie',
      'a=1',
      'Set-Cookie',
      'b=2',
      'X-Hop',
      '1',
      'Content-Length',
      '0',
    ]);
    expect(r.ends).toBe(1);
  });

  it('reports the Connection header listing extra names and the upstream keep-alive timeout', () => {
    const parser = new ResponseParser({ onResponseHead() {}, onResponseData() {}, onResponseEnd() {} }, 8192);
    parser.reset(false);
    parser.execute(
      Buffer.from('HTTP/1.1 204 No Content\r\nConnection: X-Hop\r\nKeep-Alive: timeout=3, max=9\r\n\r\n'),
    );
    expect(parser.complete).toBe(true);
    expect(parser.connectionHeader).toBe('X-Hop');
    expect(parser.keepAliveTimeout).toBe(3);
    for (const [value, seconds] of [
      ['timeout=65', 65],
      ['Timeout=7', 7],
      ['timeout=6x', 6], // as the regex always read it
      ['timeout=', -1],
    ] as const) {
      parser.reset(false);
      parser.execute(Buffer.from(`HTTP/1.1 204 No Content\r\nKeep-Alive: ${value}\r\n\r\n`));
      expect(parser.keepAliveTimeout, value).toBe(seconds);
      expect(parser.connectionHeader).toBeNull();
    }
  });

  it('ends a body without length at EOF and never reuses that connection', () => {
    const r = parse('HTTP/1.1 200 OK\r\n\r\nstreamed until close', { step: 4, eof: true });
    expect(r.error).toBeNull();
    expect(r.body).toBe('streamed until close');
    expect(r.ends).toBe(1);
    expect(r.keepAlive).toBe(false);
  });

  it('treats Connection: close and HTTP/1.0 without keep-alive as not reusable', () => {
    expect(parse('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n').keepAlive).toBe(false);
    expect(parse('HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n').keepAlive).toBe(false);
    expect(parse('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').keepAlive).toBe(false);
    expect(parse('HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n').keepAlive).toBe(
      true,
    );
  });

  it('expects no body for HEAD, 204 and 304 even when Content-Length is set', () => {
    const head = parse('HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n', { head: true });
    expect(head).toMatchObject({ error: null, ends: 1, body: '', contentLength: 42 });
    expect(parse('HTTP/1.1 304 Not Modified\r\nContent-Length: 42\r\n\r\n')).toMatchObject({
      error: null,
      ends: 1,
    });
    expect(parse('HTTP/1.1 204 No Content\r\n\r\n')).toMatchObject({
      error: null,
      ends: 1,
      contentLength: 0,
    });
  });

  it('skips interim 1xx responses and reports only the final one', () => {
    const r = parse(
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok',
      {
        step: 5,
      },
    );
    expect(r.error).toBeNull();
    expect(r.heads.map((h) => h.status)).toEqual([201]);
    expect(r.body).toBe('ok');
  });

  it('accepts a status line without a reason phrase', () => {
    const r = parse('HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok');
    expect(r).toMatchObject({ error: null, body: 'ok', ends: 1 });
    expect(r.heads[0]?.reason).toBe('');
  });

  it.each([
    ['a bad status line', 'HTTP/2 200 OK\r\n\r\n', 'UPSTREAM_BAD_RESPONSE'],
    ['a status out of range', 'HTTP/1.1 099 Nope\r\n\r\n', 'UPSTREAM_BAD_RESPONSE'],
    [
      'conflicting Content-Lengths',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx',
      'UPSTREAM_BAD_RESPONSE',
    ],
    // As llhttp, which the app's clients use, refuses them (found by the differential fuzz test).
    [
      'a list of equal Content-Lengths',
      'HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\nx',
      'UPSTREAM_BAD_RESPONSE',
    ],
    [
      'a repeated Content-Length',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx',
      'UPSTREAM_BAD_RESPONSE',
    ],
    [
      'chunked listed twice',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n',
      'UPSTREAM_BAD_RESPONSE',
    ],
    [
      'a trailer line that is not a field',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nHTTP/1.1 200 OK\r\n\r\n',
      'UPSTREAM_BAD_RESPONSE',
    ],
    [
      'a list of different Content-Lengths',
      'HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nx',
      'UPSTREAM_BAD_RESPONSE',
    ],
    ['a negative Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', 'UPSTREAM_BAD_RESPONSE'],
    [
      'Transfer-Encoding together with Content-Length (smuggling)',
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'UPSTREAM_BAD_RESPONSE',
    ],
    ['a header line without a colon', 'HTTP/1.1 200 OK\r\nNoColon\r\n\r\n', 'UPSTREAM_BAD_RESPONSE'],
    ['a bare LF in the head', 'HTTP/1.1 200 OK\r\nA: b\nC: d\r\n\r\n', 'UPSTREAM_BAD_RESPONSE'],
    // The fast path writes fields to the client as received: nothing that could split or smuggle a response.
    ['a bare CR in a value', 'HTTP/1.1 200 OK\r\nA: b\rSet-Cookie: x\r\n\r\n', 'UPSTREAM_BAD_RESPONSE'],
    ['a NUL in a value', 'HTTP/1.1 200 OK\r\nA: b\u0000c\r\n\r\n', 'UPSTREAM_BAD_RESPONSE'],
    ['a field name with a space', 'HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n', 'UPSTREAM_BAD_RESPONSE'],
    ['an obs-folded line', 'HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n', 'UPSTREAM_BAD_RESPONSE'],
    [
      'a bad chunk size',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      'UPSTREAM_BAD_RESPONSE',
    ],
    [
      'a chunk size beyond 2^52',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\n',
      'UPSTREAM_BAD_RESPONSE',
    ],
    [
      'a chunk not followed by CRLF',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n',
      'UPSTREAM_BAD_RESPONSE',
    ],
    [
      'bytes after a complete response',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxy',
      'UPSTREAM_EXTRA_DATA',
    ],
    [
      'an unexpected 101',
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n',
      'UPSTREAM_BAD_RESPONSE',
    ],
  ])('rejects %s', (_what, raw, code) => {
    expect(parse(raw).error).toBe(code);
  });

  it('refuses a head larger than the limit, also when it arrives in pieces', () => {
    const raw = `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(300)}\r\n\r\n`;
    expect(parse(raw, { maxHeader: 128 }).error).toBe('UPSTREAM_HEADERS_TOO_LARGE');
    expect(parse(raw, { maxHeader: 128, step: 10 }).error).toBe('UPSTREAM_HEADERS_TOO_LARGE');
  });

  it('distinguishes a connection closed before any byte from one cut mid-response', () => {
    expect(parse('', { eof: true }).error).toBe('empty');
    expect(parse('HTTP/1.1 200 OK\r\nContent-Le', { eof: true }).error).toBe('ECONNRESET');
    expect(parse('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc', { eof: true }).error).toBe('ECONNRESET');
    expect(
      parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n', { eof: true }).error,
    ).toBe('ECONNRESET');
  });

  it('parses the next response after reset() on a kept-alive connection', () => {
    const events: string[] = [];
    const parser = new ResponseParser(
      {
        onResponseHead: (s) => events.push(`head ${s}`),
        onResponseData: (c) => events.push(`data ${c.toString()}`),
        onResponseEnd: () => events.push('end'),
      },
      8192,
    );
    for (const body of ['one', 'two']) {
      parser.reset(false);
      expect(parser.execute(Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n${body}`))).toBeNull();
      expect(parser.complete).toBe(true);
    }
    expect(events).toEqual(['head 200', 'data one', 'end', 'head 200', 'data two', 'end']);
  });
});
