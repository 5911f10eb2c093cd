/**
 * Bypassing the edge through a refused upgrade: the built-in edge opened a raw tunnel for any request with an
 * Upgrade header, before the app agreed to switch protocols. An app that answers such a request as plain HTTP
 * (Node's server does without an 'upgrade' listener) keeps the connection, and every later request on it went
 * straight to the app, past the edge's `[edge]` policy and X-Forwarded-For. Now only a 101 opens the tunnel;
 * on any other answer the connection ends after it. Both drivers.
 */

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EDGE_KINDS,
  proxyRoute,
  RecordingApp,
  rawRequest,
  statuses,
  TestEdge,
  waitFor,
} from '../helpers/edges.js';

const HOST = 'app.localhost';
const UPGRADE = `GET /ws HTTP/1.1\r\nHost: ${HOST}\r\nConnection: Upgrade\r\nUpgrade: anything\r\n\r\n`;
const ADMIN = `GET /admin HTTP/1.1\r\nHost: ${HOST}\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n`;

describe.each(EDGE_KINDS)('requests through a refused upgrade (%s edge)', (kind) => {
  const app = new RecordingApp();
  const edge = new TestEdge(kind);

  beforeAll(async () => {
    await app.start();
    await edge.start([proxyRoute(HOST, app.port, { denyPaths: ['/admin'] })]);
  });
  afterAll(async () => {
    await edge.stop();
    await app.close();
  });

  const adminReached = () => app.received.some((r) => r.url === '/admin');

  it('a request sent right behind the upgrade request does not reach the app', async () => {
    // HAProxy answers both requests (the second with the policy's 403), the built-in edge closes after the first.
    const res = await rawRequest(edge.port, UPGRADE + ADMIN, {
      until: (t) => /\r\n\r\n[\s\S]*HTTP\/1\.1 \d{3}[\s\S]*\r\n\r\n/.test(t),
      timeoutMs: 5000,
    });
    expect(res.closed || statuses(res.text).length > 1).toBe(true);
    expect(adminReached()).toBe(false);
    if (statuses(res.text).length > 1) expect(statuses(res.text)[1]).toBe(403);
  });

  it('a request sent after the app answered the upgrade as plain HTTP does not reach the app', async () => {
    const sock = net.connect(edge.port, '127.0.0.1');
    let text = '';
    let closed = false;
    sock.on('data', (d: Buffer) => {
      text += d.toString('latin1');
    });
    sock.on('close', () => {
      closed = true;
    });
    sock.on('error', () => {});
    sock.write(UPGRADE);
    await waitFor('the answer to the upgrade request', () => text.includes('resp:/ws') || closed, {
      timeoutMs: 5000,
    });
    if (!closed) sock.write(ADMIN);
    await waitFor(
      'the edge to close the connection or answer again',
      () => closed || statuses(text).length > 1,
      {
        timeoutMs: 5000,
      },
    );
    sock.destroy();
    expect(adminReached()).toBe(false);
    if (statuses(text).length > 1) expect(statuses(text)[1]).toBe(403);
  });
});
