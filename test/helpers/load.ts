import http from 'node:http';
import { Agent, request } from 'undici';

/** Requests in a loop until stopped; counts every failure (error or non-200). */
export class Load {
  ok = 0;
  failures: string[] = [];
  private running = true;
  private loops: Promise<void>[] = [];
  private readonly agent = new Agent({ connections: 8, keepAliveTimeout: 30_000 });

  constructor(
    private readonly port: number,
    private readonly host: string,
  ) {}

  start(keepAlive: number, fresh: number): this {
    for (let i = 0; i < keepAlive; i++) this.loops.push(this.loop(() => this.keepAliveRequest()));
    for (let i = 0; i < fresh; i++) this.loops.push(this.loop(() => this.freshRequest()));
    return this;
  }

  private async loop(one: () => Promise<number>) {
    while (this.running) {
      try {
        const status = await one();
        if (status === 200) this.ok++;
        else this.failures.push(`status ${status}`);
      } catch (err) {
        this.failures.push((err as Error).message);
      }
    }
  }

  private async keepAliveRequest(): Promise<number> {
    const res = await request(`http://127.0.0.1:${this.port}/`, {
      headers: { host: this.host },
      dispatcher: this.agent,
    });
    await res.body.text();
    return res.statusCode;
  }

  /** A new TCP connection per request (Connection: close), like many clients behind NAT. */
  private freshRequest(): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = http.get(
        {
          port: this.port,
          host: '127.0.0.1',
          path: '/',
          headers: { host: this.host, connection: 'close' },
          agent: false,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    await this.agent.close();
  }
}
