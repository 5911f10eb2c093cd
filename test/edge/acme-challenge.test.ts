/** ACME HTTP-01 challenges of the built-in edge (src/edge/acme-challenge.ts), served by a real http.Server. */

import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME_PREFIX, challengeToken, serveChallenge } from '../../src/edge/acme-challenge.js';
import { makeTmpDir } from '../helpers/tmp.js';

describe('challengeToken', () => {
  it.each([
    [`${ACME_PREFIX}abc_DEF-123`, 'abc_DEF-123'],
    [ACME_PREFIX, null],
    [`${ACME_PREFIX}../secret`, null],
    [`${ACME_PREFIX}a/b`, null],
    [`${ACME_PREFIX}a?x=1`, null],
    [`${ACME_PREFIX}${'a'.repeat(257)}`, null],
  ])('%j → %j', (url, token) => {
    expect(challengeToken(url)).toBe(token);
  });
});

describe('serveChallenge', () => {
  const tmp = makeTmpDir('berth-acme-');
  const server = http.createServer((req, res) => serveChallenge(tmp.dir, req.url as string, res));
  let base = '';
  beforeAll(async () => {
    fs.writeFileSync(path.join(tmp.dir, 'tok-1'), 'tok-1.keyauth');
    fs.writeFileSync(path.join(path.dirname(tmp.dir), `${path.basename(tmp.dir)}-outside`), 'nope');
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(`${tmp.dir}-outside`, { force: true });
    tmp.cleanup();
  });

  it('answers a known token with its key authorization, not to be cached', async () => {
    const res = await fetch(`${base}${ACME_PREFIX}tok-1`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.text()).toBe('tok-1.keyauth');
  });

  it('answers 404 for an unknown or malformed token, never a file outside the directory', async () => {
    const outside = `..%2F${path.basename(tmp.dir)}-outside`;
    for (const token of ['tok-2', outside, '']) {
      const res = await fetch(`${base}${ACME_PREFIX}${token}`);
      expect(res.status, token).toBe(404);
      expect(await res.text()).toContain('No such ACME challenge.');
    }
  });
});
