/**
 * Counting a routed request once it is over: its deployment's counters and one access log line. Requests the
 * edge answers itself on Node's server (static files, 503, redirects, refusals) are counted when their response
 * closes.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { accessLine } from './access-log.js';
import { clientAddress, nextRequestId } from './forward-headers.js';
import { bodyBytesOf } from './pages.js';
import type { RouteEntry } from './router.js';

/** Counts a finished request of a route (one it counted as active) and logs it; start is its performance.now(). */
export function recordRequest(
  entry: RouteEntry,
  method: string,
  url: string,
  ip: string,
  hostKey: string,
  status: number,
  start: number,
  bytesIn: number,
  bytesOut: number,
  requestId: string,
): void {
  const ms = performance.now() - start;
  const c = entry.counters;
  c.active--;
  c.record(status, ms, bytesIn, bytesOut);
  const log = entry.log;
  if (log !== null) {
    log.append(accessLine(c.logFields, method, hostKey, url, status, ms, bytesIn, bytesOut, requestId, ip));
  }
}

/** A routed request the edge answers itself: counted when its response closes. */
class PlainRequest {
  constructor(
    readonly entry: RouteEntry,
    readonly req: IncomingMessage,
    readonly hostKey: string,
    readonly start: number,
    readonly requestId: string,
  ) {}
}

const kPlain = Symbol('berth.plain');
type PlainResponse = ServerResponse & { [kPlain]?: PlainRequest };

function onPlainClose(this: PlainResponse): void {
  const p = this[kPlain];
  if (p === undefined) return;
  this[kPlain] = undefined;
  // 499: the client closed the connection before the response (nginx's convention).
  const status = this.headersSent ? this.statusCode : 499;
  const bytesOut = this.writableFinished ? bodyBytesOf(this) : 0;
  const req = p.req;
  recordRequest(
    p.entry,
    req.method as string,
    req.url as string,
    clientAddress(req),
    p.hostKey,
    status,
    p.start,
    0,
    bytesOut,
    p.requestId,
  );
}

/** Starts counting a request the edge answers itself on res; recorded when res closes. */
export function countPlain(
  entry: RouteEntry,
  req: IncomingMessage,
  res: ServerResponse,
  hostKey: string,
  start: number,
  requestId: string | null,
): void {
  entry.counters.active++;
  (res as PlainResponse)[kPlain] = new PlainRequest(entry, req, hostKey, start, requestId ?? nextRequestId());
  res.on('close', onPlainClose);
}
