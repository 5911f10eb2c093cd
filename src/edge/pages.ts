/**
 * The few HTML pages the edge answers by itself. Small, no assets, safe to show to anyone.
 */

import type { ServerResponse } from 'node:http';

const STYLE =
  'body{font-family:system-ui,-apple-system,sans-serif;max-width:40rem;margin:12vh auto;padding:0 1.25rem;' +
  'color:#1f2328;line-height:1.5}h1{font-size:1.35rem;margin:0 0 .5rem}p{margin:.4rem 0;color:#57606a}' +
  'code{background:#f3f4f6;padding:.1rem .35rem;border-radius:4px;color:#1f2328}' +
  'small{color:#8c959f}';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;',
  );
}

function page(status: number, title: string, paragraphs: string[]): string {
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width,initial-scale=1"><title>${status} ${title}</title>` +
    `<style>${STYLE}</style></head><body><h1>${title}</h1>` +
    paragraphs.map((p) => `<p>${p}</p>`).join('') +
    `<p><small>${status} &middot; Berth edge</small></p></body></html>\n`
  );
}

export function notFoundHostPage(host: string): string {
  const shown = host === '' ? '(no Host header)' : escapeHtml(host);
  return page(404, `No service is deployed at ${shown}`, [
    'The Berth edge received this request but no route matches its host name.',
    'If you run this server, check the domains of your services with <code>berth status</code>.',
  ]);
}

export function noReplicaPage(service: string): string {
  return page(503, `${escapeHtml(service)} has no healthy replica right now`, [
    'The service exists but none of its replicas is ready to take traffic. It may be starting, crashing or being redeployed.',
    'Try again in a moment. Operators: <code>berth status</code> and <code>berth logs</code> show what is going on.',
  ]);
}

export function badGatewayPage(service: string): string {
  return page(502, `${escapeHtml(service)} is not responding`, [
    'The Berth edge could not get a response from any replica of this service.',
    'Operators: <code>berth status</code> and <code>berth logs</code> show what is going on.',
  ]);
}

export function staticNotFoundPage(path: string): string {
  return page(404, 'Not found', [`Nothing here at <code>${escapeHtml(path)}</code>.`]);
}

export function simplePage(status: number, title: string, text: string): string {
  return page(status, escapeHtml(title), [escapeHtml(text)]);
}

const kBodyBytes = Symbol('berth.bodyBytes');
type Noted = ServerResponse & { [kBodyBytes]?: number };

/** Remembers the body size of a response the edge writes itself, for its metrics and access log line. */
export function noteBodyBytes(res: ServerResponse, bytes: number): void {
  (res as Noted)[kBodyBytes] = bytes;
}

/** The body size noted for a response the edge wrote itself (0 when none was). */
export function bodyBytesOf(res: ServerResponse): number {
  return (res as Noted)[kBodyBytes] ?? 0;
}

/** Sends a whole HTML page (never used on the proxied hot path). */
export function sendPage(
  res: ServerResponse,
  status: number,
  html: string,
  extra?: Record<string, string>,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = Buffer.from(html, 'utf8');
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': String(body.length),
    'cache-control': 'no-store',
    ...extra,
  });
  const head = res.req?.method === 'HEAD';
  noteBodyBytes(res, head ? 0 : body.length);
  res.end(head ? undefined : body);
}

/** The same page written as a raw HTTP/1.1 response on a socket (used for failed upgrades). */
export function rawPage(status: number, reason: string, html: string): string {
  const len = Buffer.byteLength(html, 'utf8');
  return (
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/html; charset=utf-8\r\n` +
    `content-length: ${len}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n${html}`
  );
}
