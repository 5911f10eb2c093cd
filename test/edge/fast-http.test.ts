/**
 * The built-in edge's plain-HTTP fast path (src/edge/fast-http.ts): what it serves itself (keep-alive, pipelining,
 * framing of Content-Length / chunked / bodiless answers, Connection: close, client aborts) and the hand-over of a
 * connection to Node's server at the first request it does not serve (a body, an Upgrade, an edge page, a
 * malformed head), with no byte lost or reordered. Real edge process, real upstream, raw sockets on the client
 * side so that pipelining and exact framing are visible.
 */

import crypto from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findJemalloc } from '../../src/edge/allocator.js';
import { EdgeProcess } from '../../src/edge/edge-client.js';
import { FastHttp, type FastRequestHandler } from '../../src/edge/fast-http.js';
import { freePort } from '../../src/lib/net.js';
import { processAlive } from '../../src/lib/pid-file.js';
import { waitFor } from '../../src/lib/wait.js';
import { installed } from '../helpers/optional-tools.js';
import { killGroup, makeTmpDir } from '../helpers/tmp.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ENTRY = path.join(ROOT, 'dist/edge/main.js');

interface Parsed {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Splits a byte stream into HTTP/1.1 responses (Content-Length, chunked, or none for HEAD/204/304 as the
 * caller says); throws on anything else, so a framing mistake of the edge fails the test.
 */
function splitResponses(buf: Buffer, bodiless: boolean[] = []): Parsed[] {
  const out: Parsed[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const end = buf.indexOf('\r\n\r\n', pos);
    if (end === -1) throw new Error(`incomplete head at ${pos}: ${buf.subarray(pos).toString()}`);
    const lines = buf.subarray(pos, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.1 (\d{3}) /.exec(lines[0]);
    if (m === null) throw new Error(`bad status line: ${lines[0]}`);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      const k = l.slice(0, c).toLowerCase();
      if (k in headers) throw new Error(`duplicate ${k}`);
      headers[k] = l.slice(c + 1).trim();
    }
    const status = Number(m[1]);
    pos = end + 4;
    let body: Buffer = Buffer.alloc(0);
    const noBody = bodiless[out.length] === true || status === 204 || status === 304;
    if (noBody) {
      expect(headers['transfer-encoding']).toBeUndefined();
    } else if (headers['transfer-encoding'] === 'chunked') {
      expect(headers['content-length']).toBeUndefined();
      const parts: Buffer[] = [];
      for (;;) {
        const eol = buf.indexOf('\r\n', pos);
        const size = Number.parseInt(buf.subarray(pos, eol).toString(), 16);
        if (Number.isNaN(size)) throw new Error('bad chunk size');
        pos = eol + 2;
        if (size === 0) {
          if (buf.subarray(pos, pos + 2).toString() !== '\r\n') throw new Error('bad chunked end');
          pos += 2;
          break;
        }
        parts.push(buf.subarray(pos, pos + size));
        pos += size;
        if (buf.subarray(pos, pos + 2).toString() !== '\r\n') throw new Error('bad chunk end');
        pos += 2;
      }
      body = Buffer.concat(parts);
    } else {
      const len = Number(headers['content-length']);
      if (!Number.isInteger(len)) throw new Error(`no framing: ${JSON.stringify(headers)}`);
      body = buf.subarray(pos, pos + len);
      pos += len;
    }
    out.push({ status, headers, body: body.toString() });
  }
  return out;
}

/** Writes `data` on a new connection and collects everything until the edge closes it. */
async function exchange(port: number, data: string | Buffer): Promise<Buffer> {
  const sock = net.connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  sock.on('data', (c: Buffer) => chunks.push(c));
  await once(sock, 'connect');
  sock.write(data);
  await once(sock, 'close');
  return Buffer.concat(chunks);
}

/** Reads from sock until `count` complete responses arrived (bodies framed by Content-Length or chunked). */
async function readResponses(sock: net.Socket, count: number, bodiless: boolean[] = []): Promise<Parsed[]> {
  let buf = Buffer.alloc(0);
  for (;;) {
    try {
      const r = splitResponses(buf, bodiless);
      if (r.length >= count) return r;
    } catch {
      // incomplete so far
    }
    const [c] = (await once(sock, 'data')) as [Buffer];
    buf = Buffer.concat([buf, c]);
  }
}

describe('edge fast path', () => {
  const tmp = makeTmpDir('berth-fast-');
  let upstream: http.Server;
  let upPort = 0;
  let port = 0;
  let edge: EdgeProcess;
  let pid = 0;
  const seen: string[] = [];

  beforeAll(async () => {
    expect(fs.existsSync(ENTRY), `${ENTRY} missing: run \`npx tsc -p .\` first`).toBe(true);
    upstream = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/chunked') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('part1-');
        setImmediate(() => res.end('part2'));
        return;
      }
      if (url.pathname === '/empty') {
        res.writeHead(204);
        res.end();
        return;
      }
      if (url.pathname === '/cacheable') {
        res.writeHead(200, {
          'cache-control': 'public, max-age=60',
          etag: '"v1"',
          'content-type': 'text/plain',
        });
        res.end(req.method === 'HEAD' ? undefined : 'cached body');
        return;
      }
      if (url.pathname === '/slow') {
        setTimeout(() => res.end('slow'), 2000);
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        res.setHeader('x-sha', crypto.createHash('sha256').update(body).digest('hex').slice(0, 16));
        res.end(
          JSON.stringify({
            method: req.method,
            url: req.url,
            bytes: body.length,
            xff: req.headers['x-forwarded-for'],
            proto: req.headers['x-forwarded-proto'],
            fhost: req.headers['x-forwarded-host'],
            rid: req.headers['x-request-id'],
            conn: req.headers.connection,
          }),
        );
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upPort = (upstream.address() as net.AddressInfo).port;
    port = await freePort();
    edge = new EdgeProcess({ stateDir: path.join(tmp.dir, 'state'), port, host: '127.0.0.1' });
    pid = await edge.ensureRunning();
    await edge.apply({
      version: 1,
      routes: [
        {
          hostnames: ['app.test'],
          project: 'p',
          environment: 'production',
          service: 'app',
          deploymentId: 'd1',
          kind: 'proxy',
          targets: [{ id: 'i1', host: '127.0.0.1', port: upPort }],
          staticRoot: null,
        },
        {
          hostnames: ['limited.test'],
          project: 'p',
          environment: 'production',
          service: 'limited',
          deploymentId: 'd2',
          kind: 'proxy',
          targets: [{ id: 'i2', host: '127.0.0.1', port: upPort }],
          staticRoot: null,
          policy: { rateLimit: 2, rateLimitWindowSeconds: 60, denyPaths: ['/admin'] },
        },
      ],
    });
  });

  afterAll(async () => {
    // Through the driver: its supervisor would restart an edge killed behind its back.
    await edge?.stop(5000);
    if (pid !== 0 && processAlive(pid)) {
      process.kill(pid, 'SIGTERM');
      await waitFor('edge to exit', () => !processAlive(pid), { timeoutMs: 5000 }).catch(() =>
        killGroup(pid),
      );
    }
    upstream.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
    tmp.cleanup();
  });

  it('runs on jemalloc when it is installed (CI installs libjemalloc2)', () => {
    const lib = installed('libjemalloc2') ? findJemalloc() : null;
    const maps = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
    if (lib === null) expect(maps).not.toContain('libjemalloc');
    else expect(maps).toContain(lib);
  });

  it('answers pipelined requests in order on one connection, framing each answer', async () => {
    const req = (p: string, extra = '') => `GET ${p} HTTP/1.1\r\nHost: app.test\r\n${extra}\r\n`;
    const raw = await exchange(
      port,
      req('/one') +
        req('/chunked') +
        `HEAD /three HTTP/1.1\r\nHost: app.test\r\n\r\n` +
        req('/empty') +
        req('/last', 'Connection: close\r\n'),
    );
    const rs = splitResponses(raw, [false, false, true, false, false]);
    expect(rs.map((r) => r.status)).toEqual([200, 200, 200, 204, 200]);
    expect(JSON.parse(rs[0].body)).toMatchObject({
      method: 'GET',
      url: '/one',
      xff: '127.0.0.1',
      proto: 'http',
      fhost: 'app.test',
    });
    expect(rs[0].headers.connection).toBe('keep-alive');
    expect(rs[0].headers.date).toMatch(/GMT$/);
    expect(rs[1].body).toBe('part1-part2');
    expect(rs[1].headers['transfer-encoding']).toBe('chunked');
    expect(rs[2].body).toBe('');
    expect(JSON.parse(rs[4].body)).toMatchObject({ url: '/last' });
    expect(JSON.parse(rs[4].body).conn).not.toBe('close'); // the client's close is not the upstream's
    expect(rs[4].headers.connection).toBe('close');
    // every request got its own id upstream
    expect(JSON.parse(rs[0].body).rid).not.toBe(JSON.parse(rs[4].body).rid);
  });

  it('answers cache hits itself: the stored response, 304 for a matching If-None-Match, HEAD without body', async () => {
    const before = seen.length;
    const get = (extra = '') => `GET /cacheable HTTP/1.1\r\nHost: app.test\r\n${extra}\r\n`;
    const raw = await exchange(
      port,
      get() +
        get() +
        get('If-None-Match: "v1"\r\n') +
        'HEAD /cacheable HTTP/1.1\r\nHost: app.test\r\n\r\n' +
        get('Connection: close\r\n'),
    );
    const rs = splitResponses(raw, [false, false, false, true, false]);
    expect(rs.map((r) => [r.status, r.headers['x-cache']])).toEqual([
      [200, undefined],
      [200, 'HIT'],
      [304, 'HIT'],
      [200, 'HIT'],
      [200, 'HIT'],
    ]);
    expect(rs[1].body).toBe('cached body');
    expect(rs[3].body).toBe('');
    expect(rs[4].headers.connection).toBe('close');
    expect(seen.slice(before)).toEqual(['GET /cacheable']); // one trip to the app
  });

  it('serves what a policy lets through; a refusal is answered once, counted once', async () => {
    const before = seen.length;
    const get = (p: string) => `GET ${p} HTTP/1.1\r\nHost: limited.test\r\n\r\n`;
    const denied = splitResponses(await exchange(port, get('/admin/x')));
    expect(denied.map((r) => r.status)).toEqual([403]);
    const rs = splitResponses(await exchange(port, get('/one') + get('/two') + get('/three') + get('/four')));
    // The refusal closes the connection (as on Node's side): the fourth request is never answered.
    expect(rs.map((r) => r.status)).toEqual([200, 200, 429]);
    expect(rs[2].headers['retry-after']).toMatch(/^\d+$/);
    expect(rs[2].body).toContain('2 per 60 s');
    expect(seen.slice(before)).toEqual(['GET /one', 'GET /two']);
    const m = (await edge.metrics()).services;
    const limited = Object.values(m).find((x) => x.service === 'limited');
    expect(limited?.deployments.d2).toMatchObject({ requests: 4, status: { '2xx': 2, '4xx': 2 } });
  });

  it('keeps a connection alive across requests sent one at a time', async () => {
    const sock = net.connect(port, '127.0.0.1');
    await once(sock, 'connect');
    for (const p of ['/a', '/b', '/chunked']) {
      sock.write(`GET ${p} HTTP/1.1\r\nHost: app.test\r\nX-Request-Id: fixed-${p}\r\n\r\n`);
      const [r] = await readResponses(sock, 1);
      expect(r.status).toBe(200);
      if (p !== '/chunked') expect(JSON.parse(r.body)).toMatchObject({ url: p, rid: `fixed-${p}` });
    }
    sock.destroy();
  });

  it('hands a connection to Node at a request with a body, without losing or reordering bytes', async () => {
    const body = crypto.randomBytes(100_000);
    const sha = crypto.createHash('sha256').update(body).digest('hex').slice(0, 16);
    const data = Buffer.concat([
      Buffer.from('GET /before HTTP/1.1\r\nHost: app.test\r\n\r\n'),
      Buffer.from(`POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Length: ${body.length}\r\n\r\n`),
      body,
      Buffer.from('GET /after HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n'),
    ]);
    const rs = splitResponses(await exchange(port, data));
    expect(rs.map((r) => JSON.parse(r.body).url)).toEqual(['/before', '/upload', '/after']);
    expect(JSON.parse(rs[1].body).bytes).toBe(body.length);
    expect(rs[1].headers['x-sha']).toBe(sha);
  });

  it('hands over for edge pages and malformed heads: Node answers them', async () => {
    const unknown = splitResponses(
      await exchange(
        port,
        'GET / HTTP/1.1\r\nHost: nobody.test\r\n\r\nGET /x HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n',
      ),
    );
    expect(unknown.map((r) => r.status)).toEqual([404, 200]);
    expect(unknown[0].body).toContain('nobody.test');
    const bad = await exchange(port, 'GET / HTTP/1.1\r\nHost: app.test\r\nBad Header: x\r\n\r\n');
    expect(bad.toString()).toMatch(/^HTTP\/1\.1 400 /);
    const old = splitResponses(await exchange(port, 'GET /old HTTP/1.0\r\nHost: app.test\r\n\r\n'));
    expect(JSON.parse(old[0].body)).toMatchObject({ url: '/old' });
  });

  it('aborts the upstream request when the client leaves, and serves the next client', async () => {
    const before = seen.length;
    const sock = net.connect(port, '127.0.0.1');
    await once(sock, 'connect');
    sock.write('GET /slow HTTP/1.1\r\nHost: app.test\r\n\r\n');
    await waitFor('the slow request upstream', () => seen.length > before);
    sock.destroy();
    await waitFor('the edge to drop it', async () => (await edge.stats()).targets.i1?.active === 0);
    const rs = splitResponses(
      await exchange(port, 'GET /next HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n'),
    );
    expect(JSON.parse(rs[0].body)).toMatchObject({ url: '/next' });
  });
});

describe('fast path timeouts (FastHttp with short limits)', () => {
  let server: http.Server;
  let port = 0;
  let fast: FastHttp;

  beforeAll(async () => {
    server = http.createServer((_req, res) => res.end('node'));
    const handler: FastRequestHandler = {
      fastRequest(client, _socket, head) {
        if (head.url !== '/fast') return false;
        client.writeHead(200, '', ['content-length', '4']);
        client.end(Buffer.from('fast'));
        return true;
      },
    };
    fast = new FastHttp(handler, server, { keepAliveMs: 300, headersTimeoutMs: 300, maxHeaderSize: 16384 });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    fast.closeAll();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('closes a keep-alive connection idle past keepAliveMs', async () => {
    const sock = net.connect(port, '127.0.0.1');
    await once(sock, 'connect');
    sock.write('GET /fast HTTP/1.1\r\nHost: x\r\n\r\n');
    const [r] = await readResponses(sock, 1);
    expect(r.body).toBe('fast');
    const t0 = Date.now();
    await once(sock, 'close'); // the once-a-second sweep: within ~1.3 s
    expect(Date.now() - t0).toBeLessThan(2500);
  });

  it('answers 408 and closes when a head does not complete within headersTimeoutMs', async () => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    await once(sock, 'connect');
    sock.write('GET /fast HTTP/1.1\r\nHost: x\r\n'); // never finished
    await once(sock, 'close');
    expect(Buffer.concat(chunks).toString()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('serves nothing itself after handing a connection to Node', async () => {
    const raw = await exchange(
      port,
      'GET /node HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(splitResponses(raw).map((r) => r.body)).toEqual(['node', 'node']);
  });
});
