/**
 * Duplicate Host headers: the edge routes by one, the app might route (or build links) by another, so a
 * request with two is refused with 400 by both edges — on the built-in edge's fast path, on Node's side (a
 * request with a body) and on an upgrade — and the app never sees it. HAProxy merges identical ones into one.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EDGE_KINDS, proxyRoute, RecordingApp, rawRequest, statuses, TestEdge } from '../helpers/edges.js';

const HOST = 'app.localhost';

const DUPLICATES: Array<[string, string]> = [
  ['two hosts', `GET /dup HTTP/1.1\r\nHost: ${HOST}\r\nHost: other.localhost\r\n\r\n`],
  ['the first empty', `GET /dup HTTP/1.1\r\nHost: \r\nHost: ${HOST}\r\n\r\n`],
  [
    'with a body',
    `POST /dup HTTP/1.1\r\nHost: ${HOST}\r\nHost: other.localhost\r\nContent-Length: 2\r\n\r\nhi`,
  ],
  [
    'on an upgrade',
    `GET /dup HTTP/1.1\r\nHost: ${HOST}\r\nHost: other.localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`,
  ],
];

describe.each(EDGE_KINDS)('duplicate Host headers (%s edge)', (kind) => {
  const app = new RecordingApp();
  const edge = new TestEdge(kind);

  beforeAll(async () => {
    await app.start();
    await edge.start([proxyRoute(HOST, app.port)]);
  });
  afterAll(async () => {
    await edge.stop();
    await app.close();
  });

  it.each(DUPLICATES)('%s: 400, nothing reaches the app', async (_, bytes) => {
    const before = app.received.length;
    const res = await rawRequest(edge.port, bytes, { until: (t) => /\r\n\r\n/.test(t), timeoutMs: 5000 });
    expect(statuses(res.text)).toEqual([400]);
    expect(app.received.slice(before)).toEqual([]);
  });

  it('a repeated identical Host: 400, or one Host forwarded (HAProxy merges them)', async () => {
    const before = app.received.length;
    const bytes = `GET /dup HTTP/1.1\r\nhost: ${HOST}\r\nHOST: ${HOST}\r\n\r\n`;
    const res = await rawRequest(edge.port, bytes, { until: (t) => /\r\n\r\n/.test(t), timeoutMs: 5000 });
    const got = app.received.slice(before);
    if (kind === 'builtin' || statuses(res.text)[0] === 400) {
      expect(statuses(res.text)).toEqual([400]);
      expect(got).toEqual([]);
    } else {
      expect(got).toHaveLength(1);
      expect(got[0].rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === 'host')).toHaveLength(1);
    }
  });

  it('serves a request with one Host on the same edge', async () => {
    const res = await rawRequest(edge.port, `GET /ok HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`);
    expect(statuses(res.text)).toEqual([200]);
  });
});
