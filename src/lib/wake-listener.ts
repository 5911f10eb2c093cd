/**
 * Scale to zero's one mechanism: a TCP listener standing in for something asleep (a database engine, an app's
 * replicas). Its first connection wakes it; connections (up to a cap) are held until it is ready, then piped to it.
 */
import net from 'node:net';

/**
 * Connections one listener holds while what sleeps wakes. Every service listens on 127.0.0.1, so any local
 * client (another tenant's app) could otherwise hold descriptors of the daemon without end.
 */
export const DEFAULT_MAX_HELD = 256;

export interface WakeTarget {
  host: string;
  port: number;
}

export interface WakeListenerOptions {
  host: string;
  /** 0: any free port (read it from `port` once open). */
  port: number;
  /**
   * Close the listening socket on the first connection, before waking: what sleeps is about to listen on this
   * very address (a database engine on its private address:port). Otherwise the listener keeps accepting
   * (and piping) until close().
   */
  releaseOnWake: boolean;
  /** Called once, on the first connection; resolves with where the held connections go (round-robin). */
  wake: () => Promise<WakeTarget[]>;
  /** The wake failed: held connections were closed; the owner decides what listens next. */
  onWakeFailed: (err: unknown) => void;
  /** Connections held at most until the wake is done; more are closed as they arrive (DEFAULT_MAX_HELD). */
  maxHeld?: number;
}

/** Pipes two sockets both ways; either closing or failing ends the other once its writes are flushed. */
export function pipeBoth(a: net.Socket, b: net.Socket): void {
  a.pipe(b);
  b.pipe(a);
  const end = (other: net.Socket) => () => {
    if (!other.destroyed) other.destroySoon();
  };
  a.on('close', end(b));
  b.on('close', end(a));
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
}

export class WakeListener {
  private readonly held: net.Socket[] = [];
  private targets: WakeTarget[] | null = null;
  private next = 0;
  private waking: Promise<void> | null = null;
  private listening = true;

  private constructor(
    private readonly server: net.Server,
    private readonly opts: WakeListenerOptions,
  ) {}

  /** Listens on host:port; rejects when the address is taken. */
  static open(opts: WakeListenerOptions): Promise<WakeListener> {
    // allowHalfOpen: a client that sends its request and shuts down its side still gets the answer.
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
    const listener = new WakeListener(server, opts);
    server.on('connection', (socket) => listener.accept(socket));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: opts.host, port: opts.port, exclusive: true }, () => {
        server.off('error', reject);
        server.on('error', () => undefined);
        resolve(listener);
      });
    });
  }

  /** The port it listens on. */
  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  /** True from the first connection on (a wake is running or done). */
  get woken(): boolean {
    return this.waking !== null;
  }

  /** Resolves when the wake the first connection started has piped what it held (at once if none started). */
  settled(): Promise<void> {
    return this.waking ?? Promise.resolve();
  }

  /** Stops listening; connections already accepted keep their pipes. */
  close(): void {
    if (!this.listening) return;
    this.listening = false;
    // Closes the socket now (the callback would wait for accepted connections, which we keep).
    this.server.close();
  }

  /** Stops listening and drops held connections (daemon shutdown). */
  destroy(): void {
    this.close();
    for (const s of this.held.splice(0)) s.destroy();
  }

  private accept(socket: net.Socket): void {
    socket.on('error', () => undefined);
    if (this.targets) {
      this.pipe(socket, this.targets);
      return;
    }
    if (this.held.length >= (this.opts.maxHeld ?? DEFAULT_MAX_HELD)) {
      socket.destroy();
      return;
    }
    this.held.push(socket);
    if (this.waking) return;
    if (this.opts.releaseOnWake) this.close();
    this.waking = this.opts
      .wake()
      .then((targets) => {
        if (targets.length === 0) throw new Error('nothing to connect to after waking');
        this.targets = targets;
        for (const s of this.held.splice(0)) this.pipe(s, targets);
      })
      .catch((err: unknown) => {
        for (const s of this.held.splice(0)) s.destroy();
        this.opts.onWakeFailed(err);
      });
  }

  private pipe(socket: net.Socket, targets: WakeTarget[]): void {
    if (socket.destroyed) return;
    const t = targets[this.next++ % targets.length];
    const upstream = net.connect({ host: t.host, port: t.port, allowHalfOpen: true });
    pipeBoth(socket, upstream);
    socket.resume();
  }
}
