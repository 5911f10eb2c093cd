/**
 * `denyPaths` bypass: a denied prefix must hold for every spelling of the path an app may read as it —
 * percent-encoding, doubled slashes, dot segments, encoded slashes and dots, backslashes, `;` parameters,
 * other letter case, absolute-form targets — on both edges. The built-in edge matches the normalised path
 * (403), HAProxy refuses paths not in plain form on such routes (400); either way the app never sees them.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EDGE_KINDS, proxyRoute, RecordingApp, rawRequest, statuses, TestEdge } from '../helpers/edges.js';

const HOST = 'app.localhost';

const BYPASSES = [
  '/admin',
  '/admin/users',
  '/%61dmin',
  '/%61%64%6D%69%6E/users',
  '//admin',
  '///admin/x',
  '/./admin',
  '/x/../admin',
  '/x/./../admin/',
  '/%2e/admin',
  '/%2E%2E/admin',
  '/x/%2e%2e/admin',
  '/x/.%2e/admin',
  '/x/..%2fadmin',
  '/x%2f..%2fadmin',
  '/admin%2fusers',
  '/ADMIN',
  '/Admin/users',
  '/%41dmin',
  '/x\\..\\admin',
  '/\\admin',
  '/admin;jsessionid=1',
  '/..;/admin',
  '/x/..;/admin/users',
  '/admin/.',
  '/admin#x',
  'http://app.localhost/admin',
  'http://app.localhost//admin',
  'HTTP://APP.LOCALHOST/%61dmin?x=1',
  'http://other.example/admin/users',
  '/.env',
  '/%2eenv',
  '/.ENV',
];

describe.each(EDGE_KINDS)('denyPaths bypass (%s edge)', (kind) => {
  const app = new RecordingApp();
  const edge = new TestEdge(kind);

  beforeAll(async () => {
    await app.start();
    await edge.start([proxyRoute(HOST, app.port, { denyPaths: ['/admin', '/.env'] })]);
  });
  afterAll(async () => {
    await edge.stop();
    await app.close();
  });

  const get = async (target: string) => {
    const res = await rawRequest(
      edge.port,
      `GET ${target} HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`,
    );
    return statuses(res.text)[0];
  };

  it.each(BYPASSES)('refuses %s before the app', async (target) => {
    const before = app.received.length;
    const status = await get(target);
    expect([400, 403]).toContain(status);
    expect(app.received.slice(before).map((r) => r.url)).toEqual([]);
  });

  it('still serves the paths next to the denied ones', async () => {
    for (const target of ['/', '/public', '/administrator', '/?next=/admin', '/x/admin', '/env']) {
      const before = app.received.length;
      expect(await get(target), target).toBe(200);
      expect(app.received.slice(before).map((r) => r.url)).toEqual([target]);
    }
  });
});
