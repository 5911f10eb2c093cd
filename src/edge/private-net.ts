/**
 * The edge's private-network side: one TCP listener per PrivateEndpoint (a service's own loopback IP and
 * port), forwarding each connection to a healthy replica of the active deployment, round-robin. It works
 * at the TCP level, so HTTP, gRPC, Redis or Postgres clients all go through unchanged, and it lives in the
 * edge process for the same reason the HTTP proxy does: killing the control plane does not cut
 * service-to-service traffic.
 *
 * Listeners are keyed by host:port and kept across table swaps (only their targets change); a connection
 * already forwarded stays on its replica until one side closes it — typically the old replica shutting down
 * on SIGTERM when its deployment is retired. Per-target counters are kept for observability only.
 */

import net from 'node:net';
import type { TargetStats } from './balancer.js';
import type { PrivateEndpoint, RouteTarget } from './routing-table.js';

interface Listener {
  key: string;
  endpoint: PrivateEndpoint;
  server: net.Server;
  rr: number;
}

/** Connect failures that mean "try another replica": nothing was sent. */
const RETRYABLE = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

export class PrivateNetwork {
  private readonly listeners = new Map<string, Listener>();
  private readonly sockets = new Set<net.Socket>();
  private readonly statsById = new Map<string, TargetStats>();

  constructor(
    private readonly log: (msg: string) => void,
    private readonly connectTimeoutMs = 5000,
  ) {}

  /**
   * Makes the listeners match `endpoints`: new ones bind, gone ones close (their open connections carry
   * on), kept ones get the new targets. Resolves with one message per endpoint that could not bind.
   */
  async apply(endpoints: PrivateEndpoint[]): Promise<string[]> {
    const wanted = new Map(endpoints.map((e) => [`${e.host}:${e.port}`, e]));
    for (const [key, l] of this.listeners) {
      if (wanted.has(key)) continue;
      this.listeners.delete(key);
      l.server.close();
    }
    const problems: string[] = [];
    await Promise.all(
      [...wanted].map(async ([key, endpoint]) => {
        const existing = this.listeners.get(key);
        if (existing) {
          existing.endpoint = endpoint;
          return;
        }
        const l: Listener = { key, endpoint, server: net.createServer({ allowHalfOpen: true }), rr: 0 };
        l.server.on('connection', (client) => this.forward(l, client));
        try {
          await new Promise<void>((resolve, reject) => {
            l.server.once('error', reject);
            l.server.listen({ host: endpoint.host, port: endpoint.port }, () => {
              l.server.off('error', reject);
              resolve();
            });
          });
        } catch (err) {
          problems.push(`${endpoint.name} (${key}): ${(err as Error).message}`);
          return;
        }
        l.server.on('error', (err) => this.log(`private listener ${key} failed: ${err.message}`));
        this.listeners.set(key, l);
      }),
    );
    const used = new Set(endpoints.flatMap((e) => e.targets.map((t) => t.id)));
    for (const [id, s] of this.statsById) if (!used.has(id) && s.active === 0) this.statsById.delete(id);
    return problems;
  }

  /** Per-target counters, to be merged with the HTTP proxy's. */
  targetStats(): Map<string, TargetStats> {
    return this.statsById;
  }

  /** Open forwarded connections. */
  get active(): number {
    return this.sockets.size;
  }

  /** Stops listening; open connections are left to finish unless `now`. */
  close(now = false): void {
    for (const l of this.listeners.values()) l.server.close();
    this.listeners.clear();
    if (now) for (const s of this.sockets) s.destroy();
  }

  private stats(id: string): TargetStats {
    let s = this.statsById.get(id);
    if (s === undefined) {
      s = { active: 0, total: 0 };
      this.statsById.set(id, s);
    }
    return s;
  }

  private pick(l: Listener, skip: RouteTarget | null): RouteTarget | null {
    const targets = l.endpoint.targets.filter((t) => t !== skip);
    if (targets.length === 0) return null;
    l.rr = (l.rr + 1) % targets.length;
    return targets[l.rr];
  }

  private forward(l: Listener, client: net.Socket): void {
    client.setNoDelay(true);
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => client.destroy());
    // Nothing is read from the client until the upstream is connected: the kernel buffers it meanwhile.
    client.pause();
    this.connect(l, client, this.pick(l, null), false);
  }

  private connect(l: Listener, client: net.Socket, target: RouteTarget | null, retried: boolean): void {
    if (target === null || client.destroyed) {
      client.destroy();
      return;
    }
    const stats = this.stats(target.id);
    stats.active++;
    stats.total++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      stats.active--;
    };
    const upstream = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
    upstream.setNoDelay(true);
    this.sockets.add(upstream);
    let connected = false;
    let abandoned = false; // a retry took over this client
    const timer = setTimeout(
      () => upstream.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })),
      this.connectTimeoutMs,
    );
    upstream.once('connect', () => {
      clearTimeout(timer);
      connected = true;
      // Half-closes travel both ways (pipe ends the other side); the sockets close once both are done.
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (!connected && !retried && RETRYABLE.has(err.code ?? '') && !client.destroyed) {
        abandoned = true;
        release();
        this.connect(l, client, this.pick(l, target), true);
        return;
      }
      client.destroy();
    });
    upstream.on('close', () => {
      clearTimeout(timer);
      this.sockets.delete(upstream);
      release();
      if (!abandoned && !connected) client.destroy();
    });
    client.on('close', () => {
      if (!abandoned) upstream.destroy();
    });
  }
}
