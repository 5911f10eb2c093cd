/**
 * Security tests of the edge below the daemon: either real edge driver (the built-in edge process, or HAProxy
 * with its helper) on a free port in a temp dir, a real upstream app that records every request it receives,
 * and raw-socket clients that send bytes exactly as written.
 */

import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { EdgeDriver, EdgeKind } from '../../src/edge/driver.js';
import { EdgeProcess } from '../../src/edge/edge-client.js';
import { findHaproxy, HaproxyEdge } from '../../src/edge/haproxy/driver.js';
import type { Route, RoutePolicy, RoutingTable } from '../../src/edge/routing-table.js';
import { freePort } from '../../src/lib/net.js';
import { waitFor } from '../../src/lib/wait.js';
import { makeTmpDir } from './tmp.js';

/** The drivers installed here: HAProxy's only when its binary is. */
export const EDGE_KINDS: EdgeKind[] = findHaproxy() === null ? ['builtin'] : ['builtin', 'haproxy'];

export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
  /** Which upstream connection it came on (1, 2, ...). */
  conn: number;
}

/**
 * A real HTTP app (Node's http server, as most replicas are): records every request, answers
 * `resp:<url>` (after `?ms=N` milliseconds when asked) with the body length it read.
 */
export class RecordingApp {
  readonly received: Received[] = [];
  port = 0;
  private readonly server: http.Server;
  private conns = 0;

  constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('latin1');
        this.received.push({
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          rawHeaders: req.rawHeaders,
          body,
          conn: (req.socket as net.Socket & { berthConn?: number }).berthConn ?? 0,
        });
        const ms = Number(/[?&]ms=(\d+)/.exec(req.url ?? '')?.[1] ?? 0);
        const answer = () => {
          const text = `resp:${req.url}`;
          res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
          res.end(text);
        };
        if (ms > 0) setTimeout(answer, ms);
        else answer();
      });
    });
    this.server.on('connection', (s: net.Socket & { berthConn?: number }) => {
      s.berthConn = ++this.conns;
    });
    this.server.keepAliveTimeout = 30_000;
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

export function proxyRoute(host: string, port: number, policy?: RoutePolicy): Route {
  return {
    hostnames: [host],
    project: 'p',
    environment: 'production',
    service: host.split('.')[0],
    deploymentId: `d-${host}`,
    kind: 'proxy',
    targets: [{ id: `t-${host}`, host: '127.0.0.1', port }],
    staticRoot: null,
    ...(policy === undefined ? {} : { policy }),
  };
}

export function staticRoute(host: string, root: string, policy?: RoutePolicy): Route {
  return {
    hostnames: [host],
    project: 'p',
    environment: 'production',
    service: host.split('.')[0],
    deploymentId: `d-${host}`,
    kind: 'static',
    targets: [],
    staticRoot: root,
    ...(policy === undefined ? {} : { policy }),
  };
}

/** A running edge of either kind, serving `routes` on 127.0.0.1:port. */
export class TestEdge {
  port = 0;
  driver!: EdgeDriver;
  private readonly tmp = makeTmpDir('berth-sec-edge-');
  private version = 0;

  constructor(readonly kind: EdgeKind) {}

  async start(routes: Route[], extra: Partial<RoutingTable> = {}): Promise<this> {
    this.port = await freePort();
    const stateDir = path.join(this.tmp.dir, 'edge');
    const binary = findHaproxy();
    this.driver =
      this.kind === 'haproxy' && binary !== null
        ? new HaproxyEdge({ stateDir, port: this.port, host: '127.0.0.1', binary })
        : new EdgeProcess({ stateDir, port: this.port, host: '127.0.0.1' });
    await this.driver.ensureRunning();
    await this.apply(routes, extra);
    return this;
  }

  /** Applies a table; with HAProxy, also waits for the workers a reload replaced to stop accepting. */
  async apply(routes: Route[], extra: Partial<RoutingTable> = {}): Promise<void> {
    await this.driver.apply({ version: ++this.version, routes, ...extra });
    const d = this.driver;
    if (d instanceof HaproxyEdge) {
      await waitFor(
        'the old HAProxy workers to leave',
        async () => (await d.procList()).oldWorkers.length === 0,
        {
          timeoutMs: 10_000,
        },
      );
    }
  }

  async stop(): Promise<void> {
    try {
      await this.driver?.stop(5000);
    } finally {
      this.tmp.cleanup();
    }
  }
}

export interface RawAnswer {
  /** Everything the edge sent before the connection closed or `until` held. */
  text: string;
  /** The edge closed the connection. */
  closed: boolean;
}

/**
 * Sends `bytes` on a new connection and collects what comes back until `until(text)` holds or the edge closes
 * the connection (`timeoutMs` fails the test: the edge hung).
 */
export function rawRequest(
  port: number,
  bytes: string | Buffer,
  opts: { until?: (text: string) => boolean; timeoutMs?: number; localAddress?: string } = {},
): Promise<RawAnswer> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1', localAddress: opts.localAddress });
    let text = '';
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ text, closed });
    };
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      sock.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms; got so far: ${JSON.stringify(text)}`));
    }, timeoutMs);
    sock.on('connect', () => sock.write(bytes));
    sock.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (opts.until?.(text)) finish(false);
    });
    sock.on('error', () => finish(true));
    sock.on('close', () => finish(true));
  });
}

/** Status codes of the responses in a raw answer, in order (bodies framed by Content-Length, or none). */
export function statuses(text: string): number[] {
  const out: number[] = [];
  let pos = 0;
  for (;;) {
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(text.slice(pos, pos + 12));
    if (m === null) return out;
    out.push(Number(m[1]));
    const end = text.indexOf('\r\n\r\n', pos);
    if (end === -1) return out;
    pos = end + 4 + Number(/\r\ncontent-length: *(\d+)/i.exec(text.slice(pos, end))?.[1] ?? 0);
  }
}

/** `n` complete responses with a Content-Length body are in `text`. */
export function hasResponses(text: string, n: number): boolean {
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const end = text.indexOf('\r\n\r\n', pos);
    if (end === -1) return false;
    const head = text.slice(pos, end);
    const len = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    if (text.length < end + 4 + len) return false;
    pos = end + 4 + len;
  }
  return true;
}

export { waitFor };
