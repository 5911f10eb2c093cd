/**
 * Upgrade (WebSocket) tunnels: the request head goes to a target over a new TCP connection, and bytes are piped
 * both ways once the app answers 101; any other answer goes to the client and the connection ends.
 */

import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Balancer, Target } from './balancer.js';
import type { DeploymentCounters } from './metrics.js';
import { badGatewayPage, rawPage } from './pages.js';

/** What a tunnel needs of the proxy that opens it. */
export interface TunnelContext {
  readonly balancer: Balancer;
  readonly connectTimeoutMs: number;
  /** The next target for hostKey in the current table, avoiding avoidKey. */
  retarget(hostKey: string, avoidKey: string | null): Target | null;
}

/** An upstream answer (its head complete) that opens the tunnel: 101 Switching Protocols. */
export function switchesProtocols(answer: Buffer): boolean {
  return /^HTTP\/1\.[01] 101[ \r]/.test(answer.toString('latin1', 0, 14));
}

/** A tunnelled Upgrade (WebSocket) connection: raw bytes both ways after forwarding the request head. */
export class Tunnel {
  target: Target;
  upstream: net.Socket | null = null;
  connected = false;
  triedOther = false;
  counted = false;
  clientClosed = false;
  upstreamClosed = false;
  finished = false;
  killTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly ctx: TunnelContext,
    readonly client: Duplex,
    readonly headText: string,
    readonly head: Buffer,
    readonly hostKey: string,
    readonly service: string,
    target: Target,
    readonly counters: DeploymentCounters,
  ) {
    this.target = target;
    ctx.balancer.tunnelOpened(this);
    counters.tunnels++;
    counters.active++;
    if (client instanceof net.Socket) client.setKeepAlive(true, 60_000);
    client.once('close', () => {
      this.clientClosed = true;
      const up = this.upstream;
      if (up !== null && this.connected && !this.upstreamClosed) this.closeSoon(up, client.errored !== null);
      this.maybeFinish();
    });
  }

  connect(): void {
    const t = this.target;
    t.stats.active++;
    t.stats.total++;
    this.counted = true;
    const up = net.connect({ host: t.host, port: t.port });
    this.upstream = up;
    up.setNoDelay(true);
    up.setKeepAlive(true, 60_000); // notice peers that vanished without a FIN
    up.setTimeout(this.ctx.connectTimeoutMs, () => {
      if (!this.connected) up.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' }));
    });
    up.once('connect', () => {
      this.connected = true;
      up.setTimeout(0);
      if (this.clientClosed) {
        up.destroy();
        return;
      }
      up.write(this.headText);
      up.on('data', this.onHeadData);
    });
    up.on('error', () => {
      if (!this.connected) this.connectFailed();
      // once connected, 'close' follows and tears the pair down
    });
    up.once('close', (hadError) => {
      if (this.upstream !== up || !this.connected) return;
      this.upstreamClosed = true;
      if (!this.clientClosed) this.closeSoon(this.client, hadError);
      this.maybeFinish();
    });
  }

  /**
   * The upstream's answer to the upgrade request, until its head is complete. Only a 101 opens the tunnel: on
   * any other answer the connection would go on as HTTP straight to the app, past everything the edge does per
   * request (X-Forwarded-For, `[edge]` policy), so the client gets that answer and the connection ends.
   */
  private answer: Buffer | null = null;

  private readonly onHeadData = (chunk: Buffer): void => {
    const up = this.upstream as net.Socket;
    const buf = this.answer === null ? chunk : Buffer.concat([this.answer, chunk]);
    const end = buf.indexOf('\r\n\r\n');
    if (end === -1 && buf.length <= http.maxHeaderSize) {
      this.answer = buf;
      return;
    }
    this.answer = null;
    up.off('data', this.onHeadData);
    up.pause();
    this.client.write(buf);
    if (end !== -1 && switchesProtocols(buf)) {
      if (this.head.length > 0) up.write(this.head);
      up.pipe(this.client);
      this.client.pipe(up);
      up.resume();
      return;
    }
    // Not switched: the rest of this answer, then both sides close (the app sees its request side end).
    up.pipe(this.client);
    up.end();
    up.resume();
  };

  /** Ends the other side gracefully (flushing what the pipe already queued), or kills it after an error. */
  closeSoon(side: Duplex, kill: boolean): void {
    if (kill) {
      side.destroy();
      return;
    }
    side.end();
    this.killTimer ??= setTimeout(() => side.destroy(), 10_000).unref();
  }

  connectFailed(): void {
    this.uncount();
    if (!this.triedOther && !this.clientClosed) {
      this.triedOther = true;
      const next = this.ctx.retarget(this.hostKey, this.target.key);
      if (next !== null) {
        this.target = next;
        this.connect();
        return;
      }
    }
    this.upstream = null;
    if (!this.clientClosed) this.client.end(rawPage(502, 'Bad Gateway', badGatewayPage(this.service)));
    this.maybeFinish();
  }

  uncount(): void {
    if (!this.counted) return;
    this.counted = false;
    this.target.stats.active--;
  }

  maybeFinish(): void {
    if (this.finished || !this.clientClosed) return;
    if (this.upstream !== null && !this.upstreamClosed) return;
    this.finished = true;
    if (this.killTimer !== null) clearTimeout(this.killTimer);
    this.uncount();
    this.counters.active--;
    this.ctx.balancer.tunnelClosed(this);
  }

  destroy(): void {
    this.client.destroy();
    this.upstream?.destroy();
  }
}
