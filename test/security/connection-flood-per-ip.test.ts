/**
 * Connection flooding from one address: a client opening connections without end used to be able to hold every
 * socket of the edge. Both edges now cap the connections one client IP holds open (`connectionsPerIp`, 256
 * unless the routing table says otherwise): the next one is closed at accept, the others keep working, other
 * addresses are unaffected, and a slot frees up when a connection closes.
 */

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EDGE_KINDS,
  hasResponses,
  proxyRoute,
  RecordingApp,
  rawRequest,
  statuses,
  TestEdge,
  waitFor,
} from '../helpers/edges.js';

const HOST = 'app.localhost';
const CAP = 4;

/** A kept-alive client connection that has been served once (so the edge has accepted and counted it). */
class Client {
  private text = '';
  private closed = false;
  private constructor(private readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.text += d.toString('latin1');
    });
    sock.on('close', () => {
      this.closed = true;
    });
    sock.on('error', () => {});
  }

  /** A new connection; one the edge resets at once (HAProxy's reject) comes back already closed. */
  static async open(port: number, localAddress = '127.0.0.1'): Promise<Client> {
    const sock = net.connect({ port, host: '127.0.0.1', localAddress });
    const client = new Client(sock);
    await new Promise((resolve) => {
      sock.once('connect', resolve);
      sock.once('close', resolve);
    });
    return client;
  }

  /** Sends a request; resolves with its status, or 0 when the edge closed the connection instead. */
  async get(path: string): Promise<number> {
    const before = this.text.length;
    if (this.closed) return 0;
    this.sock.write(`GET ${path} HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
    await waitFor(`an answer to ${path}`, () => this.closed || hasResponses(this.text.slice(before), 1), {
      timeoutMs: 5000,
      intervalMs: 10,
    });
    return this.closed && this.text.length === before ? 0 : statuses(this.text.slice(before))[0];
  }

  close(): void {
    this.sock.destroy();
  }
}

describe.each(EDGE_KINDS)('connections per client IP (%s edge)', (kind) => {
  const app = new RecordingApp();
  const edge = new TestEdge(kind);
  const clients: Client[] = [];

  beforeAll(async () => {
    await app.start();
    await edge.start([proxyRoute(HOST, app.port)], { connectionsPerIp: CAP });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await edge.stop();
    await app.close();
  });

  it(`the connection after ${CAP} is closed at accept; the others keep working`, async () => {
    for (let i = 0; i < CAP; i++) {
      const c = await Client.open(edge.port);
      clients.push(c);
      expect(await c.get(`/keep${i}`)).toBe(200);
    }
    const extra = await Client.open(edge.port);
    expect(await extra.get('/extra')).toBe(0);
    expect(app.received.map((r) => r.url)).not.toContain('/extra');
    for (const [i, c] of clients.entries()) expect(await c.get(`/again${i}`)).toBe(200);
  });

  it('another address is not affected', async () => {
    const other = await Client.open(edge.port, '127.0.0.2');
    expect(await other.get('/other')).toBe(200);
    other.close();
  });

  it('a closed connection frees its slot', async () => {
    (clients.shift() as Client).close();
    // The edge notices the close asynchronously: retry until a new connection is served.
    await waitFor(
      'a new connection to be served once one closed',
      async () => {
        const res = await rawRequest(
          edge.port,
          `GET /freed HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`,
        );
        return statuses(res.text)[0] === 200;
      },
      { timeoutMs: 5000 },
    );
  });

  it('the default allows many connections', async () => {
    await edge.apply([proxyRoute(HOST, app.port)]);
    const many: Client[] = [];
    try {
      for (let i = 0; i < 3 * CAP; i++) many.push(await Client.open(edge.port));
      for (const [i, c] of many.entries()) expect(await c.get(`/many${i}`)).toBe(200);
    } finally {
      for (const c of many) c.close();
    }
  });
});
