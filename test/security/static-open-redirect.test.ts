/**
 * Open redirect from static sites: a directory asked for without its trailing slash is redirected, and the
 * Location used to echo the request path: `/\evil.example/..` went to `/\evil.example/../`, which browsers
 * read as `//evil.example/../`, another host. The Location is now the directory's own path under the site's
 * root: never `//…` or `/\…`, on both edges (HAProxy hands static sites to the built-in helper).
 */

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EDGE_KINDS, rawRequest, staticRoute, statuses, TestEdge } from '../helpers/edges.js';
import { makeTmpDir } from '../helpers/tmp.js';

const HOST = 'site.localhost';

describe.each(EDGE_KINDS)('static site redirects (%s edge)', (kind) => {
  const tmp = makeTmpDir('berth-sec-static-');
  const app = path.join(tmp.dir, 'app');
  const edge = new TestEdge(kind);

  beforeAll(async () => {
    fs.mkdirSync(path.join(app, 'docs', 'a b'), { recursive: true });
    fs.writeFileSync(path.join(app, 'index.html'), 'home');
    fs.writeFileSync(path.join(app, 'docs', 'index.html'), 'docs');
    await edge.start([{ ...staticRoute(HOST, app), staticAppDir: app }]);
  });
  afterAll(async () => {
    await edge.stop();
    tmp.cleanup();
  });

  const get = async (target: string) => {
    const res = await rawRequest(
      edge.port,
      `GET ${target} HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`,
    );
    const location = /\r\nlocation: ([^\r]*)/i.exec(res.text)?.[1] ?? null;
    return { status: statuses(res.text)[0], location };
  };

  it.each([
    '/\\evil.example/..',
    '/%5Cevil.example/..',
    '/%5cevil.example/%2e%2e',
    '//evil.example/..',
    '/%2Fevil.example/..',
    '/\\/evil.example/..',
    '/docs/../\\evil.example/..',
    '/./\\evil.example/..?x=1',
  ])('%s never redirects off-site', async (target) => {
    const { status, location } = await get(target);
    if (status === 301) {
      expect(location).not.toMatch(/^[/\\][/\\]/);
      expect(location).not.toMatch(/^[a-z]+:/i);
      expect(new URL(location as string, `http://${HOST}/`).host).toBe(HOST);
    } else {
      expect([400, 404]).toContain(status);
    }
  });

  it('redirects a directory to its own path with the query kept', async () => {
    expect(await get('/docs')).toEqual({ status: 301, location: '/docs/' });
    expect(await get('/docs?x=1')).toEqual({ status: 301, location: '/docs/?x=1' });
    expect(await get('/docs/a%20b')).toEqual({ status: 301, location: '/docs/a%20b/' });
    expect((await get('/docs/')).status).toBe(200);
  });
});
