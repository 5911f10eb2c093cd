/**
 * The built-in edge, end to end: real upstream servers, the real edge process spawned through EdgeProcess.
 *
 * Needs dist/edge/main.js: `npm test` builds first (pretest runs `tsc`); when running vitest directly,
 * run `npx tsc -p .` before.
 */

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeProcess } from '../../src/edge/edge-client.js';
import type { Route, RouteTarget, RoutingTable } from '../../src/edge/routing-table.js';
import { freePort } from '../../src/lib/net.js';
import { processAlive } from '../../src/lib/pid-file.js';
import { delay, waitFor } from '../../src/lib/wait.js';
import { request as requestTo } from '../helpers/client.js';
import { killGroup, makeTmpDir } from '../helpers/tmp.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ENTRY = path.join(ROOT, 'dist/edge/main.js');

// ---------------------------------------------------------------------------------------------
// upstreams

interface Upstream {
  name: string;
  port: number;
  server: http.Server;
  events: EventEmitter;
  /** Responses of /stream-down waiting for the test to finish them. */
  pendingDown: http.ServerResponse[];
  close(): Promise<void>;
}

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** A text frame; client frames must be masked (RFC 6455 §5.3). Payloads < 126 bytes only. */
function wsFrame(text: string, mask: boolean): Buffer {
  const payload = Buffer.from(text);
  if (payload.length >= 126) throw new Error('test frames are small');
  if (!mask) return Buffer.concat([Buffer.from([0x81, payload.length]), payload]);
  const key = crypto.randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ key[i % 4]));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), key, masked]);
}

/** Parses one small frame at the start of buf: [text, bytes used] or null if incomplete. */
function wsParse(buf: Buffer): [string, number] | null {
  if (buf.length < 2) return null;
  const masked = (buf[1] & 0x80) !== 0;
  const len = buf[1] & 0x7f;
  const start = 2 + (masked ? 4 : 0);
  if (buf.length < start + len) return null;
  let payload = buf.subarray(start, start + len);
  if (masked) {
    const key = buf.subarray(2, 6);
    payload = Buffer.from(payload.map((b, i) => b ^ key[i % 4]));
  }
  return [payload.toString(), start + len];
}

async function startUpstream(name: string): Promise<Upstream> {
  const events = new EventEmitter();
  const pendingDown: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/slow') {
      setTimeout(() => res.end(name), Number(url.searchParams.get('ms') ?? 500));
      return;
    }
    if (url.pathname === '/upload') {
      const hash = crypto.createHash('sha256');
      let bytes = 0;
      req.on('data', (c: Buffer) => {
        bytes += c.length;
        hash.update(c);
        if (bytes === c.length) events.emit('first-chunk');
      });
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ name, bytes, sha256: hash.digest('hex') }));
      });
      return;
    }
    if (url.pathname === '/big') {
      // N MiB, written as fast as the proxy accepts them
      const chunk = Buffer.alloc(64 * 1024, 'x');
      let left = Number(url.searchParams.get('mb') ?? 1) * 16;
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(left * chunk.length),
      });
      const pump = () => {
        while (left > 0) {
          left--;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
      return;
    }
    if (url.pathname === '/stream-down') {
      res.writeHead(200, { 'content-type': 'text/plain' }); // no length: chunked
      res.write('first\n');
      pendingDown.push(res);
      events.emit('stream-down');
      return;
    }
    const body = JSON.stringify({ name, method: req.method, url: req.url, headers: req.headers });
    res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': name });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  server.on('upgrade', (req, socket: net.Socket, head: Buffer) => {
    events.emit('upgrade', req.headers);
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      // any other protocol: plain byte echo after 101
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: ${req.headers.upgrade}\r\n\r\n`,
      );
      if (head.length) socket.write(head);
      socket.pipe(socket);
      return;
    }
    const accept = crypto
      .createHash('sha1')
      .update(`${req.headers['sec-websocket-key']}${WS_GUID}`)
      .digest('base64');
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n' +
        `sec-websocket-accept: ${accept}\r\n\r\n`,
    );
    let buf = head;
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      for (let f = wsParse(buf); f !== null; f = wsParse(buf)) {
        buf = buf.subarray(f[1]);
        socket.write(wsFrame(`${name}:${f[0]}`, false));
      }
    };
    socket.on('data', onData);
    socket.on('end', () => socket.end()); // like real WebSocket servers: close when the client does
    socket.on('error', () => {});
    if (head.length) onData(Buffer.alloc(0));
  });
  server.keepAliveTimeout = 5000;
  const sockets = new Set<net.Socket>(); // includes upgraded ones, which closeAllConnections() misses
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    name,
    port,
    server,
    events,
    pendingDown,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// table + client helpers

function target(id: string, up: { port: number }): RouteTarget {
  return { id, host: '127.0.0.1', port: up.port };
}

function proxyRoute(service: string, hostnames: string[], targets: RouteTarget[]): Route {
  return {
    hostnames,
    project: 'proj',
    environment: 'production',
    service,
    deploymentId: `dep-${service}`,
    kind: 'proxy',
    targets,
    staticRoot: null,
  };
}

function staticRoute(service: string, hostnames: string[], root: string): Route {
  return { ...proxyRoute(service, hostnames, []), kind: 'static', staticRoot: root };
}

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
let edgePort = 0;

function request(
  host: string,
  urlPath: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; port?: number } = {},
): Promise<Res> {
  const { port, ...rest } = opts;
  return requestTo(port ?? edgePort, host, urlPath, { ...rest, agent });
}

const nameOf = (r: Res): string => (JSON.parse(r.body) as { name: string }).name;

/** Sends an Upgrade request on a raw socket; resolves with the socket and everything after the 101 head. */
async function rawUpgrade(
  host: string,
  upgrade: string,
  extra = '',
): Promise<{ sock: net.Socket; head: string; rest: Buffer }> {
  const sock = net.connect(edgePort, '127.0.0.1');
  await once(sock, 'connect');
  sock.write(
    `GET /socket HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: ${upgrade}\r\n` +
      `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\n${extra}\r\n`,
  );
  let buf = Buffer.alloc(0);
  for (;;) {
    const [c] = (await once(sock, 'data')) as [Buffer];
    buf = Buffer.concat([buf, c]);
    const end = buf.indexOf('\r\n\r\n');
    if (end !== -1) return { sock, head: buf.subarray(0, end).toString(), rest: buf.subarray(end + 4) };
  }
}

async function readFrame(sock: net.Socket, pending: Buffer): Promise<string> {
  let buf = pending;
  for (;;) {
    const f = wsParse(buf);
    if (f !== null) return f[0];
    const [c] = (await once(sock, 'data')) as [Buffer];
    buf = Buffer.concat([buf, c]);
  }
}

// ---------------------------------------------------------------------------------------------

describe('edge', () => {
  const tmp = makeTmpDir('berth-edge-');
  const stateDir = path.join(tmp.dir, 'state');
  const siteDir = path.join(tmp.dir, 'site');
  const pids = new Set<number>();
  const upstreams: Upstream[] = [];
  let A: Upstream;
  let B: Upstream;
  let edge: EdgeProcess;
  let version = 0;

  function table(...routes: Route[]): RoutingTable {
    return { version: ++version, routes };
  }

  /** Routes shared by most tests; individual tests add theirs. */
  function baseRoutes(): Route[] {
    return [
      proxyRoute('alpha', ['app-a.test', 'www.app-a.test'], [target('a1', A)]),
      proxyRoute('beta', ['app-b.test'], [target('b1', B)]),
      proxyRoute('both', ['rr.test'], [target('a1', A), target('b1', B)]),
      proxyRoute('ghost', ['empty.test'], []),
      staticRoute('site', ['site.test'], siteDir),
    ];
  }

  beforeAll(async () => {
    expect(fs.existsSync(ENTRY), `${ENTRY} missing: run \`npx tsc -p .\` first`).toBe(true);
    A = await startUpstream('A');
    B = await startUpstream('B');
    upstreams.push(A, B);

    fs.mkdirSync(path.join(siteDir, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(siteDir, 'index.html'), '<h1>home</h1>');
    fs.writeFileSync(path.join(siteDir, 'style.css'), 'body{color:red}');
    fs.writeFileSync(path.join(siteDir, 'app.js'), 'console.log(1)');
    fs.writeFileSync(path.join(siteDir, 'about.html'), '<h1>about</h1>');
    fs.writeFileSync(path.join(siteDir, 'sub', 'index.html'), '<h1>sub</h1>');
    fs.writeFileSync(path.join(siteDir, '404.html'), '<h1>custom missing</h1>');
    fs.writeFileSync(path.join(tmp.dir, 'secret.txt'), 'TOP SECRET');
    fs.symlinkSync(path.join(tmp.dir, 'secret.txt'), path.join(siteDir, 'link.txt'));

    edgePort = await freePort();
    edge = new EdgeProcess({ stateDir, port: edgePort, host: '127.0.0.1' });
    const pid = await edge.ensureRunning();
    pids.add(pid);
    await edge.apply(table(...baseRoutes()));
  });

  afterAll(async () => {
    agent.destroy();
    // Through the driver: its supervisor would restart an edge killed behind its back.
    await edge?.stop(5000);
    for (const pid of pids) {
      if (processAlive(pid)) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* gone */
        }
        await waitFor(`edge ${pid} to exit`, () => !processAlive(pid), { timeoutMs: 5000 }).catch(() =>
          killGroup(pid),
        );
      }
    }
    await Promise.all(upstreams.map((u) => u.close()));
    tmp.cleanup();
  });

  it('writes its files and answers the control API', async () => {
    const pid = edge.pid();
    expect(pid).not.toBeNull();
    expect(Number(fs.readFileSync(path.join(stateDir, 'edge.pid'), 'utf8'))).toBe(pid);
    expect(fs.existsSync(path.join(stateDir, 'control.sock'))).toBe(true);
    const onDisk = JSON.parse(fs.readFileSync(path.join(stateDir, 'routes.json'), 'utf8')) as RoutingTable;
    expect(onDisk.version).toBe(version);
    expect(onDisk.routes.map((r) => r.service)).toEqual(['alpha', 'beta', 'both', 'ghost', 'site']);
    const health = await edge.health();
    expect(health).toMatchObject({ ok: true, pid, version });
    const stats = await edge.stats();
    expect(stats.version).toBe(version);
    expect(stats.targets.a1).toEqual({ active: 0, total: expect.any(Number) });
  });

  it('routes by Host header (port stripped, case-insensitive)', async () => {
    const a = await request('app-a.test', '/x');
    expect(a.status).toBe(200);
    expect(nameOf(a)).toBe('A');
    expect(a.headers['x-upstream']).toBe('A');
    expect(nameOf(await request('app-b.test', '/'))).toBe('B');
    expect(nameOf(await request('WWW.App-A.test:8080', '/'))).toBe('A');
    const echoed = JSON.parse((await request('app-a.test', '/p/q?x=1&y=%20')).body) as { url: string };
    expect(echoed.url).toBe('/p/q?x=1&y=%20');
    const head = await request('app-a.test', '/', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });

  it('round-robins across targets', async () => {
    const names: string[] = [];
    for (let i = 0; i < 6; i++) names.push(nameOf(await request('rr.test', '/')));
    expect(names.filter((n) => n === 'A')).toHaveLength(3);
    expect(names.filter((n) => n === 'B')).toHaveLength(3);
    for (let i = 1; i < names.length; i++) expect(names[i]).not.toBe(names[i - 1]);
  });

  it('answers 404 for an unknown host', async () => {
    const r = await request('Nope.Example:3000', '/');
    expect(r.status).toBe(404);
    expect(r.headers['content-type']).toContain('text/html');
    expect(r.body).toContain('No service is deployed at nope.example');
    expect(r.body).toContain('berth status');
  });

  it('answers 503 immediately for a route without targets', async () => {
    const t0 = Date.now();
    const r = await request('empty.test', '/');
    expect(Date.now() - t0).toBeLessThan(500);
    expect(r.status).toBe(503);
    expect(r.body).toContain('ghost has no healthy replica right now');
  });

  it('sets X-Forwarded-* and drops hop-by-hop headers, keeping Host', async () => {
    const r = await request('app-a.test:8443', '/', {
      headers: {
        'x-forwarded-for': '10.1.2.3',
        'x-forwarded-proto': 'gopher',
        connection: 'keep-alive, x-private',
        'x-private': 'secret',
        'keep-alive': 'timeout=5',
        'x-custom': 'kept',
      },
    });
    const { headers } = JSON.parse(r.body) as { headers: Record<string, string> };
    expect(headers.host).toBe('app-a.test:8443');
    expect(headers['x-forwarded-for']).toBe('10.1.2.3, 127.0.0.1');
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers['x-forwarded-host']).toBe('app-a.test:8443');
    expect(headers['x-custom']).toBe('kept');
    expect(headers['x-private']).toBeUndefined();
    expect(headers['keep-alive']).toBeUndefined();
    expect(r.headers.connection).toBe('keep-alive');
  });

  it('gives every request an X-Request-Id, keeping one the client sent', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const r = await request('app-a.test', '/');
      ids.add((JSON.parse(r.body) as { headers: Record<string, string> }).headers['x-request-id']);
    }
    expect(ids.size).toBe(3);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
    const kept = await request('app-a.test', '/', { headers: { 'x-request-id': 'from-client-1' } });
    expect((JSON.parse(kept.body) as { headers: Record<string, string> }).headers['x-request-id']).toBe(
      'from-client-1',
    );
  });

  it('streams a large request body through', async () => {
    const chunk = crypto.randomBytes(1024 * 1024);
    const hash = crypto.createHash('sha256');
    const res = new Promise<Res>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: edgePort,
          path: '/upload',
          method: 'POST',
          headers: { host: 'app-a.test' },
        },
        (r) => {
          let body = '';
          r.setEncoding('utf8');
          r.on('data', (c: string) => {
            body += c;
          });
          r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers, body }));
        },
      );
      req.on('error', reject);
      // chunked upload: the first MiB must reach the upstream before we send the rest (no buffering)
      const firstChunk = once(A.events, 'first-chunk');
      hash.update(chunk);
      req.write(chunk);
      firstChunk
        .then(async () => {
          for (let i = 1; i < 32; i++) {
            hash.update(chunk);
            if (!req.write(chunk)) await once(req, 'drain');
          }
          req.end();
        })
        .catch(reject);
    });
    const r = await res;
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ name: 'A', bytes: 32 * 1024 * 1024, sha256: hash.digest('hex') });
  });

  it('streams a chunked response as it is produced', async () => {
    const got: string[] = [];
    const done = new Promise<Res>((resolve, reject) => {
      http
        .get(
          { host: '127.0.0.1', port: edgePort, path: '/stream-down', headers: { host: 'app-a.test' } },
          (r) => {
            r.setEncoding('utf8');
            r.on('data', (c: string) => {
              got.push(c);
              // the upstream only finishes once we saw the first chunk: a buffering proxy would hang here
              if (got.length === 1) A.pendingDown.shift()?.end('second\n');
            });
            r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers, body: got.join('') }));
          },
        )
        .on('error', reject);
    });
    const r = await done;
    expect(r.status).toBe(200);
    expect(r.headers['transfer-encoding']).toBe('chunked');
    expect(r.body).toBe('first\nsecond\n');
    expect(got[0]).toBe('first\n');
  });

  it('applies backpressure to a large response for a slow client', async () => {
    const bytes = await new Promise<number>((resolve, reject) => {
      http
        .get(
          { host: '127.0.0.1', port: edgePort, path: '/big?mb=24', headers: { host: 'app-a.test' } },
          (r) => {
            let n = 0;
            let paused = false;
            r.on('data', (c: Buffer) => {
              n += c.length;
              if (!paused && n > 1024 * 1024) {
                // stall long enough for every buffer between upstream and us to fill up
                paused = true;
                r.pause();
                setTimeout(() => r.resume(), 300);
              }
            });
            r.on('end', () => resolve(n));
            r.on('error', reject);
          },
        )
        .on('error', reject);
    });
    expect(bytes).toBe(24 * 1024 * 1024);
    expect(await edge.waitIdle(['a1'], 2000)).toBe(true);
  });

  it('tunnels WebSockets both ways and counts them as active', async () => {
    const seen = once(A.events, 'upgrade') as Promise<[http.IncomingHttpHeaders]>;
    const { sock, head, rest } = await rawUpgrade('app-a.test', 'websocket');
    expect(head).toMatch(/^HTTP\/1\.1 101/);
    expect(head.toLowerCase()).toContain('sec-websocket-accept');
    const [upHeaders] = await seen;
    expect(upHeaders['x-forwarded-for']).toBe('127.0.0.1');
    expect(upHeaders.host).toBe('app-a.test');

    sock.write(wsFrame('hello', true));
    let pending = rest;
    expect(await readFrame(sock, pending)).toBe('A:hello');
    pending = Buffer.alloc(0);
    sock.write(wsFrame('again', true));
    expect(await readFrame(sock, pending)).toBe('A:again');

    expect((await edge.stats()).targets.a1.active).toBe(1);
    expect(await edge.waitIdle(['a1'], 200)).toBe(false);
    sock.end();
    expect(await edge.waitIdle(['a1'], 5000)).toBe(true);
  });

  it('tunnels any Upgrade protocol, and refuses upgrades for unknown hosts', async () => {
    const { sock, head, rest } = await rawUpgrade('app-b.test', 'x-custom-proto');
    expect(head).toMatch(/^HTTP\/1\.1 101/);
    sock.write('ping-bytes');
    let got = rest.toString();
    while (!got.includes('ping-bytes')) got += ((await once(sock, 'data')) as [Buffer])[0].toString();
    sock.destroy();

    const bad = await rawUpgrade('unknown.test', 'websocket');
    expect(bad.head).toMatch(/^HTTP\/1\.1 404/);
    bad.sock.destroy();
    const empty = await rawUpgrade('empty.test', 'websocket');
    expect(empty.head).toMatch(/^HTTP\/1\.1 503/);
    empty.sock.destroy();
  });

  it('tries the next target when one refuses connections, else answers 502', async () => {
    const deadPort = await freePort();
    await edge.apply(
      table(
        ...baseRoutes(),
        proxyRoute(
          'half',
          ['half.test'],
          [{ id: 'dead', host: '127.0.0.1', port: deadPort }, target('b1', B)],
        ),
        proxyRoute('down', ['down.test'], [{ id: 'dead2', host: '127.0.0.1', port: deadPort }]),
      ),
    );
    for (let i = 0; i < 4; i++) {
      const r = await request('half.test', '/', { method: 'POST', body: 'x' });
      expect(r.status).toBe(200);
      expect(nameOf(r)).toBe('B');
    }
    const down = await request('down.test', '/');
    expect(down.status).toBe(502);
    expect(down.body).toContain('down is not responding');
    const stats = await edge.stats();
    expect(stats.targets.dead.active).toBe(0);
    expect(stats.targets.dead.total).toBeGreaterThan(0);
  });

  it('replays a GET once when a reused upstream connection was closed under it', async () => {
    // An upstream that answers the first request of each connection (keep-alive) and drops the
    // connection when a second one arrives: the classic idle-socket race, made deterministic.
    let connections = 0;
    const flaky = net.createServer((sock) => {
      connections++;
      let requests = 0;
      sock.on('data', (c) => {
        if (!c.includes('\r\n\r\n')) return;
        requests++;
        if (requests === 1) {
          sock.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok');
        } else {
          sock.destroy();
        }
      });
    });
    await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', r));
    const flakyPort = (flaky.address() as net.AddressInfo).port;
    try {
      await edge.apply(
        table(
          ...baseRoutes(),
          proxyRoute('flaky', ['flaky.test'], [{ id: 'f1', host: '127.0.0.1', port: flakyPort }]),
        ),
      );
      for (let i = 0; i < 5; i++) {
        const r = await request('flaky.test', '/');
        expect(r.status).toBe(200);
        expect(r.body).toBe('ok');
      }
      expect(connections).toBeGreaterThanOrEqual(5);
      // a request with a body is not replayed: it may have reached the app
      const post = await request('flaky.test', '/', { method: 'POST', body: 'data' });
      expect(post.status).toBe(502);
    } finally {
      flaky.close();
    }
  });

  it('switches targets mid-traffic without a single failed request', async () => {
    const S1 = await startUpstream('S1');
    const S2 = await startUpstream('S2');
    upstreams.push(S1, S2);
    const routesWith = (t: RouteTarget) => [...baseRoutes(), proxyRoute('sw', ['sw.test'], [t])];
    await edge.apply(table(...routesWith(target('s1', S1))));

    let stop = false;
    let switched = false;
    const failures: string[] = [];
    const hits = { S1: 0, S2: 0 };
    let lateS1 = 0;
    const worker = async () => {
      while (!stop) {
        const startedAfterSwitch = switched;
        try {
          const r = await request('sw.test', '/');
          if (r.status !== 200) failures.push(`status ${r.status}`);
          else {
            const n = nameOf(r) as 'S1' | 'S2';
            hits[n]++;
            if (startedAfterSwitch && n === 'S1') lateS1++;
          }
        } catch (err) {
          failures.push(String(err));
        }
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    await delay(400);
    await edge.apply(table(...routesWith(target('s2', S2))));
    switched = true;
    // the daemon's next steps: wait for the old replica to drain, then stop it
    expect(await edge.waitIdle(['s1'], 5000)).toBe(true);
    await S1.close();
    await delay(400);
    stop = true;
    await Promise.all(workers);

    expect(failures).toEqual([]);
    expect(lateS1).toBe(0);
    expect(hits.S1).toBeGreaterThan(10);
    expect(hits.S2).toBeGreaterThan(10);
  });

  it('waitIdle waits for a slow request on the old target to finish', async () => {
    await edge.apply(table(...baseRoutes(), proxyRoute('slow', ['slow.test'], [target('slow-a', A)])));
    const t0 = Date.now();
    const slow = request('slow.test', '/slow?ms=800');
    await waitFor('slow request in flight', async () => (await edge.stats()).targets['slow-a']?.active === 1);
    // move the route to B: the old target keeps its counter while its request is in flight
    await edge.apply(table(...baseRoutes(), proxyRoute('slow', ['slow.test'], [target('slow-b', B)])));
    expect(nameOf(await request('slow.test', '/'))).toBe('B');
    expect(await edge.waitIdle(['slow-a'], 100)).toBe(false);
    expect(await edge.waitIdle(['slow-a', 'slow-b'], 5000)).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(700);
    const r = await slow;
    expect(r.status).toBe(200);
    expect(r.body).toBe('A');
    // unknown ids count as idle
    expect(await edge.waitIdle(['never-seen'], 100)).toBe(true);
  });

  it('stops counting a request as soon as its client goes away', async () => {
    await edge.apply(table(...baseRoutes(), proxyRoute('slow', ['slow.test'], [target('slow-c', A)])));
    const req = http.request({
      host: '127.0.0.1',
      port: edgePort,
      path: '/slow?ms=5000',
      headers: { host: 'slow.test' },
      agent: false,
    });
    req.on('error', () => {});
    req.end();
    await waitFor('slow request in flight', async () => (await edge.stats()).targets['slow-c']?.active === 1);
    const t0 = Date.now();
    req.destroy();
    expect(await edge.waitIdle(['slow-c'], 3000)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('serves static routes with types, ETag/Last-Modified, 304, HEAD and 404.html', async () => {
    const home = await request('site.test', '/');
    expect(home.status).toBe(200);
    expect(home.body).toBe('<h1>home</h1>');
    expect(home.headers['content-type']).toBe('text/html; charset=utf-8');
    const etag = home.headers.etag as string;
    const lastModified = home.headers['last-modified'] as string;
    expect(etag).toBeTruthy();
    expect(lastModified).toBeTruthy();

    expect((await request('site.test', '/style.css')).headers['content-type']).toBe(
      'text/css; charset=utf-8',
    );
    expect((await request('site.test', '/app.js')).headers['content-type']).toContain('text/javascript');
    expect((await request('site.test', '/about')).body).toBe('<h1>about</h1>');

    const cached = await request('site.test', '/index.html', { headers: { 'if-none-match': etag } });
    expect(cached.status).toBe(304);
    expect(cached.body).toBe('');
    const ims = await request('site.test', '/', { headers: { 'if-modified-since': lastModified } });
    expect(ims.status).toBe(304);

    const head = await request('site.test', '/style.css', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('15');
    expect(head.body).toBe('');

    const dir = await request('site.test', '/sub?x=1');
    expect(dir.status).toBe(301);
    expect(dir.headers.location).toBe('/sub/?x=1');
    expect((await request('site.test', '/sub/')).body).toBe('<h1>sub</h1>');

    const missing = await request('site.test', '/nope.png');
    expect(missing.status).toBe(404);
    expect(missing.body).toBe('<h1>custom missing</h1>');

    expect((await request('site.test', '/', { method: 'POST', body: 'x' })).status).toBe(405);
  });

  it('answers client routes of a single-page app with its index.html, and missing assets with 404', async () => {
    const spa = staticRoute('spa', ['spa.test'], siteDir);
    const outside = staticRoute('esc', ['esc.test'], siteDir);
    await edge.apply(
      table(
        ...baseRoutes(),
        { ...spa, staticFallback: 'index.html' },
        { ...outside, staticFallback: '../secret.txt' },
      ),
    );
    for (const p of ['/dashboard/settings', '/users/42', '/deep/link/']) {
      const r = await request('spa.test', p);
      expect(r.status, p).toBe(200);
      expect(r.body, p).toBe('<h1>home</h1>');
      expect(r.headers['content-type'], p).toBe('text/html; charset=utf-8');
    }
    // Real files and directories still win over the fallback.
    expect((await request('spa.test', '/about')).body).toBe('<h1>about</h1>');
    expect((await request('spa.test', '/sub/')).body).toBe('<h1>sub</h1>');
    // An asset that is not there is a 404 (a script tag must not get HTML), unless a browser navigates to it.
    const asset = await request('spa.test', '/assets/x.js');
    expect(asset.status).toBe(404);
    expect(asset.body).toBe('<h1>custom missing</h1>');
    const navigated = await request('spa.test', '/u/jane.doe', {
      headers: { accept: 'text/html,*/*;q=0.8' },
    });
    expect(navigated.status).toBe(200);
    expect(navigated.body).toBe('<h1>home</h1>');
    // Without a fallback (a plain static site) a client route is a 404.
    expect((await request('site.test', '/dashboard/settings')).status).toBe(404);
    // A fallback pointing outside the root is never served.
    const esc = await request('esc.test', '/dashboard');
    expect(esc.status).toBe(404);
    expect(esc.body).not.toContain('TOP SECRET');
    await edge.apply(table(...baseRoutes()));
  });

  it('never serves files outside the static root', async () => {
    for (const p of [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/..%2fsecret.txt',
      '/sub/../../secret.txt',
      '/link.txt',
    ]) {
      const r = await request('site.test', p);
      expect(r.status, p).toBe(404);
      expect(r.body, p).not.toContain('TOP SECRET');
    }
    expect((await request('site.test', '/%E0%A4%A')).status).toBe(400);
  });

  it('reloads routes.json on SIGHUP', async () => {
    const next: RoutingTable = {
      version: ++version,
      routes: [...baseRoutes(), proxyRoute('hup', ['hup.test'], [target('a1', A)])],
    };
    fs.writeFileSync(path.join(stateDir, 'routes.json'), JSON.stringify(next));
    process.kill(edge.pid() as number, 'SIGHUP');
    await waitFor(
      'edge to apply the SIGHUP reload',
      async () => (await edge.stats()).version === next.version,
    );
    expect(nameOf(await request('hup.test', '/'))).toBe('A');
  });

  it('keeps the previous table when routes.json is invalid', async () => {
    const before = (await edge.stats()).version;
    fs.writeFileSync(path.join(stateDir, 'routes.json'), '{"version": 99, "routes": [{"hostnames": 3}]}');
    await expect(
      edge.apply({ version: -1, routes: [{ bad: true }] } as unknown as RoutingTable),
    ).rejects.toThrow(/invalid routing table/);
    expect((await edge.stats()).version).toBe(before);
    expect((await request('app-a.test', '/')).status).toBe(200);
    await edge.apply(table(...baseRoutes()));
  });

  it('is adopted by a new EdgeProcess instead of starting a second one', async () => {
    const again = new EdgeProcess({ stateDir, port: edgePort, host: '127.0.0.1' });
    expect(await again.ensureRunning()).toBe(edge.pid());
    await expect(new EdgeProcess({ stateDir, port: edgePort + 1 }).ensureRunning()).rejects.toThrow(/port/);
  });

  it('outlives its owner being killed -9, is adopted, then drains on stop()', async () => {
    const dir2 = path.join(tmp.dir, 'state2');
    const port2 = await freePort();
    const script = `
      import { EdgeProcess } from ${JSON.stringify(path.join(ROOT, 'dist/edge/edge-client.js'))};
      const e = new EdgeProcess({ stateDir: process.env.DIR, port: Number(process.env.PORT), host: '127.0.0.1' });
      const pid = await e.ensureRunning();
      await e.apply({ version: 1, routes: ${JSON.stringify([proxyRoute('alpha', ['app-a.test'], [target('a1', A)])])} });
      console.log('EDGE_PID ' + pid);
      setInterval(() => {}, 1000);
    `;
    const owner = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, DIR: dir2, PORT: String(port2) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    owner.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const edgePid = await waitFor('owner to report the edge pid', () => {
      const m = /EDGE_PID (\d+)/.exec(out);
      return m ? Number(m[1]) : null;
    });
    pids.add(edgePid);
    expect(edgePid).not.toBe(owner.pid);
    owner.kill('SIGKILL');
    await once(owner, 'exit');

    expect(processAlive(edgePid)).toBe(true);
    const r = await request('app-a.test', '/', { port: port2 });
    expect(nameOf(r)).toBe('A');

    const adopter = new EdgeProcess({ stateDir: dir2, port: port2, host: '127.0.0.1' });
    expect(await adopter.ensureRunning()).toBe(edgePid);
    expect((await adopter.stats()).version).toBe(1);

    // SIGTERM finishes the request in flight before exiting
    const slow = request('app-a.test', '/slow?ms=600', { port: port2 });
    await waitFor('slow request in flight', async () => (await adopter.stats()).targets.a1?.active === 1);
    await adopter.stop();
    expect(processAlive(edgePid)).toBe(false);
    const done = await slow;
    expect(done.status).toBe(200);
    expect(done.body).toBe('A');
    expect(fs.existsSync(path.join(dir2, 'edge.pid'))).toBe(false);
    expect(adopter.pid()).toBeNull();
  });
});
