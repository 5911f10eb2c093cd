/**
 * A cap on the connections one client IP holds open at once on the edge's listeners (`connectionsPerIp` of
 * the routing table): the excess is closed at accept, before a byte is read, so one client cannot hold every
 * socket and file descriptor the edge has. Per connection, not per request: one Map update at accept and
 * one at close.
 */

import type net from 'node:net';

/** When the routing table does not say. */
export const DEFAULT_CONNECTIONS_PER_IP = 256;

export class ConnectionLimiter {
  /** Most connections per client IP; 0: no limit (connections are still counted). */
  max = DEFAULT_CONNECTIONS_PER_IP;
  /** Connections closed at accept because their IP had `max` open. */
  refused = 0;
  private readonly open = new Map<string, number>();

  /** Counts an accepted connection until it closes; false (and the socket destroyed) when over the cap. */
  admit(socket: net.Socket): boolean {
    const ip = socket.remoteAddress ?? '';
    const n = this.open.get(ip) ?? 0;
    if (this.max > 0 && n >= this.max) {
      this.refused++;
      socket.destroy();
      return false;
    }
    this.open.set(ip, n + 1);
    socket.once('close', () => this.closed(ip));
    return true;
  }

  /** Connections open from `ip`. */
  count(ip: string): number {
    return this.open.get(ip) ?? 0;
  }

  /**
   * Puts the limit in front of `server`'s own 'connection' listeners (its HTTP or TLS handling, or the fast
   * path's): a refused socket never reaches them.
   */
  guard(server: net.Server): void {
    const listeners = server.listeners('connection') as Array<(socket: net.Socket) => void>;
    server.removeAllListeners('connection');
    server.on('connection', (socket: net.Socket) => {
      if (!this.admit(socket)) return;
      for (const l of listeners) l.call(server, socket);
    });
  }

  private closed(ip: string): void {
    const n = (this.open.get(ip) ?? 1) - 1;
    if (n <= 0) this.open.delete(ip);
    else this.open.set(ip, n);
  }
}
