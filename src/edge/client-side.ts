/**
 * The client side of a proxied request, as the proxy's Exchange sees it: where the response head and body go,
 * and who tells it that the client left or can take more bytes. Two implementations: `NodeClient` (below,
 * Node's ServerResponse: TLS, request bodies, upgrades, every case the fast path hands over) and the fast
 * path's connection (`fast-http.ts`: plain HTTP/1.1 requests without a body).
 */

import type { ServerResponse } from 'node:http';
import { bodyBytesOf, sendPage } from './pages.js';

/** What the client side reports back to the request it carries. */
export interface ClientEvents {
  /** The client closed the connection before the whole response was written. */
  clientClosed(): void;
  /** Writes may go on after write() returned false. */
  drained(): void;
}

export interface ClientSide {
  readonly headersSent: boolean;
  /** The status written (200 before writeHead). */
  readonly statusCode: number;
  /** The whole response was handed to the socket. */
  readonly finished: boolean;
  /** Throws on a header Node refuses to send (the caller answers 502 instead). */
  writeHead(status: number, reason: string, headers: string[]): void;
  /**
   * false: wait for drained() before writing more. `chunk` is only valid during the call (it may be a view of a
   * reused read buffer): an implementation that keeps it must copy it.
   */
  write(chunk: Buffer): boolean;
  /** Ends the response, with its last bytes if given (valid during the call only, as for write()). */
  end(last: Buffer | null): void;
  /** Aborts a response mid-way: the client must see a truncated response, not a clean end. */
  destroy(): void;
  /** Sends a whole edge page (502); returns the body bytes written. */
  sendPage(status: number, html: string): number;
  /** Reports to `events` until unbind(). */
  bind(events: ClientEvents): void;
  unbind(): void;
}

const kEvents = Symbol('berth.clientEvents');
type TaggedResponse = ServerResponse & { [kEvents]?: ClientEvents };

function onResponseClose(this: TaggedResponse): void {
  this[kEvents]?.clientClosed();
}

function onResponseDrain(this: TaggedResponse): void {
  this[kEvents]?.drained();
}

/** A ClientSide over Node's ServerResponse. */
export class NodeClient implements ClientSide {
  private drainHooked = false;

  constructor(readonly res: ServerResponse) {}

  get headersSent(): boolean {
    return this.res.headersSent;
  }

  get statusCode(): number {
    return this.res.statusCode;
  }

  get finished(): boolean {
    return this.res.writableFinished;
  }

  writeHead(status: number, reason: string, headers: string[]): void {
    if (reason !== '') this.res.writeHead(status, reason, headers);
    else this.res.writeHead(status, headers);
  }

  // Copies: an upstream chunk lives in a read buffer the next read reuses (upstream.ts), and Node's response
  // may keep what it could not write yet.
  write(chunk: Buffer): boolean {
    if (this.res.write(Buffer.from(chunk))) return true;
    if (!this.drainHooked) {
      this.drainHooked = true;
      this.res.on('drain', onResponseDrain);
    }
    return false;
  }

  end(last: Buffer | null): void {
    if (last !== null) this.res.end(Buffer.from(last));
    else this.res.end();
  }

  destroy(): void {
    this.res.destroy();
  }

  sendPage(status: number, html: string): number {
    sendPage(this.res, status, html);
    return bodyBytesOf(this.res);
  }

  bind(events: ClientEvents): void {
    (this.res as TaggedResponse)[kEvents] = events;
    this.res.on('close', onResponseClose);
  }

  unbind(): void {
    (this.res as TaggedResponse)[kEvents] = undefined;
  }
}
