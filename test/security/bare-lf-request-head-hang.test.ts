/**
 * A request head with bare LF (or bare CR) line ends never contains the CRLFCRLF the built-in edge's fast path
 * waited for: the client hung until the 60 s head timeout. Both edges must answer at once: 400, or serve it
 * as the one request it is (RFC 9112 §2.2 allows a recipient to accept bare LF; HAProxy does).
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EDGE_KINDS, proxyRoute, RecordingApp, rawRequest, statuses, TestEdge } from '../helpers/edges.js';

const HOST = 'app.localhost';

/** Each is a complete request from the client's point of view: an edge that waits for more hangs. */
const LF_ONLY: Array<[string, string]> = [
  ['LF-only line ends', `GET /lf HTTP/1.1\nHost: ${HOST}\n\n`],
  ['LF-only, with a body', `POST /lf HTTP/1.1\nHost: ${HOST}\nContent-Length: 2\n\nhi`],
  ['LF-only end of head', `GET /lf HTTP/1.1\r\nHost: ${HOST}\r\n\n`],
  ['a bare LF in the middle', `GET /lf HTTP/1.1\r\nHost: ${HOST}\nX-A: b\r\n\r\n`],
];
const BARE_CR: Array<[string, string]> = [
  ['CR-only line ends', `GET /cr HTTP/1.1\rHost: ${HOST}\r\r`],
  ['a bare CR in a value', `GET /cr HTTP/1.1\r\nHost: ${HOST}\r\nX-A: b\rc\r\n\r\n`],
];

describe.each(EDGE_KINDS)('bare LF/CR request heads (%s edge)', (kind) => {
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

  // The connection stays open on our side: the edge must answer without waiting for more bytes.
  const send = (bytes: string) =>
    rawRequest(edge.port, bytes, { until: (t) => /\r\n\r\n/.test(t), timeoutMs: 5000 });

  it.each(LF_ONLY)('%s: 400 or served, at once', async (_, bytes) => {
    const before = app.received.length;
    const res = await send(bytes);
    const got = app.received.slice(before);
    if (statuses(res.text)[0] === 400) expect(got).toEqual([]);
    else {
      expect(statuses(res.text)).toEqual([200]);
      const body = bytes.endsWith('hi') ? 'hi' : '';
      expect(got.map((r) => [r.url, r.body, r.headers.host])).toEqual([['/lf', body, HOST]]);
    }
  });

  it.each(BARE_CR)('%s: 400 at once, nothing reaches the app', async (_, bytes) => {
    const before = app.received.length;
    expect(statuses((await send(bytes)).text)).toEqual([400]);
    expect(app.received.slice(before)).toEqual([]);
  });

  it(`serves a well-formed request on the same edge (${kind})`, async () => {
    const res = await rawRequest(edge.port, `GET /ok HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`);
    expect(statuses(res.text)).toEqual([200]);
  });
});
