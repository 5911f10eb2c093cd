/** Load balancing and in-flight accounting of the built-in edge (src/edge/balancer.ts). */

import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Balancer, nextTarget, pickTarget, type TargetSet } from '../../src/edge/balancer.js';

const OPTIONS = {
  maxConnections: 4,
  connectTimeoutMs: 1000,
  timeoutMs: 1000,
  keepAliveMs: 1000,
  maxHeaderSize: http.maxHeaderSize,
};

describe('Balancer', () => {
  let b: Balancer;
  afterEach(async () => {
    await b.close();
  });

  function set(...ports: number[]): TargetSet {
    return { targets: ports.map((p, i) => b.target({ id: `i${i}`, host: '127.0.0.1', port: p })), rr: 0 };
  }

  it('goes round-robin over a set, and wraps its position before it grows large', () => {
    b = new Balancer(OPTIONS);
    const s = set(4001, 4002, 4003);
    expect([1, 2, 3, 4, 5].map(() => nextTarget(s).port)).toEqual([4001, 4002, 4003, 4001, 4002]);
    s.rr = 0x3fffffff;
    nextTarget(s);
    expect(s.rr).toBe(0);
  });

  it('picks another address than the one to avoid, or none when there is no other', () => {
    b = new Balancer(OPTIONS);
    const s = set(4001, 4002);
    expect(pickTarget(s, '127.0.0.1:4001')?.port).toBe(4002);
    expect(pickTarget(s, '127.0.0.1:4001')?.port).toBe(4002);
    expect(pickTarget(s, null)?.port).toBe(4001);
    expect(pickTarget(s, null)?.port).toBe(4002);
    const one = set(4005);
    expect(pickTarget(one, '127.0.0.1:4005')).toBeNull();
    expect(pickTarget({ targets: [], rr: 0 }, null)).toBeNull();
  });

  it('shares one pool per address and one counter per id', () => {
    b = new Balancer(OPTIONS);
    const x = b.target({ id: 'a', host: '127.0.0.1', port: 4001 });
    const y = b.target({ id: 'b', host: '127.0.0.1', port: 4001 });
    const z = b.target({ id: 'a', host: '127.0.0.1', port: 4001 });
    expect(y.pool).toBe(x.pool);
    expect(z.stats).toBe(x.stats);
    expect(y.stats).not.toBe(x.stats);
  });

  it('counts requests and tunnels in flight per target, and resolves whenIdle once both are over', async () => {
    b = new Balancer(OPTIONS);
    const t = b.target({ id: 'a', host: '127.0.0.1', port: 4001 });
    await b.whenIdle(); // idle at once
    b.begin(t);
    b.begin(t);
    const tunnel = new net.Socket();
    b.tunnelOpened(tunnel);
    expect(b.active).toBe(3);
    expect(b.stats()).toEqual({ a: { active: 2, total: 2 } });
    let idle = false;
    const done = b.whenIdle().then(() => {
      idle = true;
    });
    b.end(t);
    b.end(t);
    await Promise.resolve();
    expect(idle).toBe(false);
    b.tunnelClosed(tunnel);
    await done;
    expect(b.active).toBe(0);
    expect(b.stats()).toEqual({ a: { active: 0, total: 2 } });
  });

  it('keeps listing a target that left the table while it is active, then forgets it', () => {
    b = new Balancer(OPTIONS);
    const old = b.target({ id: 'old', host: '127.0.0.1', port: 4001 });
    b.target({ id: 'idle', host: '127.0.0.1', port: 4002 });
    b.begin(old);
    b.retain(new Set(), new Set());
    expect(Object.keys(b.stats())).toEqual(['old']);
    b.end(old);
    b.retain(new Set(), new Set());
    expect(b.stats()).toEqual({});
    expect(b.upstreamConnections).toBe(0);
  });

  it('destroys open tunnels on close', async () => {
    b = new Balancer(OPTIONS);
    const tunnel = new net.Socket();
    b.tunnelOpened(tunnel);
    await b.close();
    expect(tunnel.destroyed).toBe(true);
  });
});
