import http from 'node:http';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness } from '../helpers/berth.js';

/** Requests in a loop until stopped; counts every failure (error or non-200). */
class Load {
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

describe('zero downtime under load', () => {
  const berth = new BerthHarness();
  const scope = ['-p', 'zd', '-s', 'web'];
  let dir: string;
  beforeAll(async () => {
    await berth.start();
    dir = berth.app('lifecycle', 'web');
    const up = await berth.cli(['up', dir, ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('a request in flight on the old version completes across the switch', async () => {
    const host = berth.hostFor('web', 'zd');
    const slow = berth.get(host, '/slow?ms=3000');
    const set = await berth.cli(['variables', 'set', 'VERSION=v2', ...scope]);
    expect(set.code, set.stderr).toBe(0);
    const [latest] = await berth.settledDeployments(scope);
    expect(latest.status).toBe('SUCCESS');
    const res = await slow;
    expect(res.status).toBe(200);
    expect(res.body).toBe('slow v1');
    expect((await berth.get(host)).body).toBe('v2');
  });

  it('zero failed requests during a deploy, a failed deploy and a rollback', async () => {
    const load = new Load(berth.httpPort, berth.hostFor('web', 'zd')).start(4, 2);
    try {
      const ok = await berth.cli(['variables', 'set', 'VERSION=v3', ...scope]);
      expect(ok.code).toBe(0);
      expect((await berth.settledDeployments(scope))[0].status).toBe('SUCCESS');

      const bad = await berth.cli(['variables', 'set', 'HEALTH_STATUS=500', ...scope]);
      expect(bad.code).toBe(0);
      expect((await berth.settledDeployments(scope))[0].status).toBe('FAILED');
      await berth.cli(['variables', 'delete', 'HEALTH_STATUS', '--skip-deploys', ...scope]);

      const rb = await berth.cli(['rollback', ...scope]);
      expect(rb.code, rb.stdout + rb.stderr).toBe(0);
    } finally {
      await load.stop();
    }
    expect(load.failures).toEqual([]);
    expect(load.ok).toBeGreaterThan(200);
    expect((await berth.get(berth.hostFor('web', 'zd'))).body).toBe('v2');
  });
});
