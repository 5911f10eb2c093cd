/**
 * Request smuggling through the edge's hop-by-hop handling: a request that lists a framing header
 * (Content-Length, Transfer-Encoding) or Host in its Connection header must still reach the app framed as the
 * edge read it. Before the fix the built-in edge removed the listed Content-Length but forwarded the body, so
 * the app read the body as a second request (with a forged X-Forwarded-For) on a pooled upstream connection,
 * and the next client on that connection received the smuggled request's response.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EDGE_KINDS,
  hasResponses,
  proxyRoute,
  RecordingApp,
  rawRequest,
  statuses,
  TestEdge,
} from '../helpers/edges.js';

const HOST = 'app.localhost';
const SMUGGLED = `GET /smuggled?ms=300 HTTP/1.1\r\nHost: ${HOST}\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n`;

describe.each(EDGE_KINDS)('Connection-listed framing headers (%s edge)', (kind) => {
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

  /** The attack, then a victim's request right after it on the (pooled) upstream connection. */
  async function attack(attackBytes: string): Promise<{ attacker: string; victim: string }> {
    const before = app.received.length;
    const attacker = await rawRequest(edge.port, attackBytes, { until: (t) => hasResponses(t, 1) });
    const victim = await rawRequest(edge.port, `GET /victim HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, {
      until: (t) => hasResponses(t, 1),
    });
    // The smuggled request would answer 300 ms later: give it the time to show up at the app.
    const victimSeen = app.received.slice(before).some((r) => r.url === '/victim');
    expect(victimSeen).toBe(true);
    return { attacker: attacker.text, victim: victim.text };
  }

  function expectNoSmuggling(since: number, victim: string): void {
    const got = app.received.slice(since);
    expect(got.map((r) => r.url)).not.toContain('/smuggled?ms=300');
    expect(got.some((r) => String(r.headers['x-forwarded-for']).startsWith('6.6.6.6'))).toBe(false);
    expect(statuses(victim)).toEqual([200]);
    expect(victim).toContain('resp:/victim');
    expect(victim).not.toContain('resp:/smuggled');
  }

  it.each(['Content-Length', 'content-length', 'keep-alive, Content-Length', 'close,content-length'])(
    'Connection: %s does not drop the body framing',
    async (connection) => {
      const since = app.received.length;
      const { attacker, victim } = await attack(
        `POST /upload HTTP/1.1\r\nHost: ${HOST}\r\nConnection: ${connection}\r\n` +
          `Content-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
      );
      const posted = app.received.slice(since).filter((r) => r.method === 'POST');
      // Either the edge refused the request, or the app got it whole, body included.
      if (statuses(attacker)[0] !== 400) {
        expect(posted).toHaveLength(1);
        expect(posted[0].body).toBe(SMUGGLED);
      }
      expectNoSmuggling(since, victim);
      // A later request on a pooled connection, once the smuggled one would have been answered, is clean too.
      const late = await rawRequest(edge.port, `GET /late?ms=400 HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, {
        until: (t) => hasResponses(t, 1),
      });
      expect(late.text).toContain('resp:/late?ms=400');
      expect(app.received.slice(since).map((r) => r.url)).not.toContain('/smuggled?ms=300');
    },
  );

  it('Connection: Transfer-Encoding does not turn a chunked body into requests', async () => {
    const since = app.received.length;
    const chunk = `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`;
    const { attacker, victim } = await attack(
      `POST /upload HTTP/1.1\r\nHost: ${HOST}\r\nConnection: Transfer-Encoding\r\n` +
        `Transfer-Encoding: chunked\r\n\r\n${chunk}`,
    );
    if (statuses(attacker)[0] !== 400) {
      const posted = app.received.slice(since).filter((r) => r.method === 'POST');
      expect(posted).toHaveLength(1);
      expect(posted[0].body).toBe(SMUGGLED);
    }
    expectNoSmuggling(since, victim);
  });

  it('Connection: Host keeps the Host header', async () => {
    const since = app.received.length;
    const res = await rawRequest(
      edge.port,
      `GET /host HTTP/1.1\r\nHost: ${HOST}\r\nConnection: Host\r\n\r\n`,
      {
        until: (t) => hasResponses(t, 1),
      },
    );
    expect(statuses(res.text)).toEqual([200]);
    const got = app.received.slice(since).find((r) => r.url === '/host');
    expect(got?.headers.host).toBe(HOST);
  });
});
