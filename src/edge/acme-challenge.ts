/**
 * ACME HTTP-01 challenges: `/.well-known/acme-challenge/<token>` is answered for every host from the challenge
 * directory the daemon's certificate client writes (file name = token).
 */

import fs from 'node:fs';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import { sendPage, simplePage } from './pages.js';

export const ACME_PREFIX = '/.well-known/acme-challenge/';
const ACME_TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

/** The token of a challenge URL (one that starts with ACME_PREFIX), or null when it is not a valid token. */
export function challengeToken(url: string): string | null {
  const token = url.slice(ACME_PREFIX.length);
  return ACME_TOKEN.test(token) ? token : null;
}

/** Answers a challenge URL from dir: the key authorization as text/plain, or 404 when unknown. */
export function serveChallenge(dir: string, url: string, res: ServerResponse): void {
  const token = challengeToken(url);
  if (token === null) {
    sendPage(res, 404, simplePage(404, 'Not found', 'No such ACME challenge.'));
    return;
  }
  fs.readFile(path.join(dir, token), (err, body) => {
    if (err) {
      sendPage(res, 404, simplePage(404, 'Not found', 'No such ACME challenge.'));
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/plain',
      'content-length': body.length,
      'cache-control': 'no-store',
    });
    res.end(body);
  });
}
