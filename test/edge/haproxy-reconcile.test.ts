import { describe, expect, it } from 'vitest';
import type { HaproxyState } from '../../src/edge/haproxy/plan.js';
import { reconcileState } from '../../src/edge/haproxy/reconcile.js';
import type { ServerStat } from '../../src/edge/haproxy/runtime-api.js';

const saved: HaproxyState = {
  version: 3,
  listen: { host: '127.0.0.1', port: 8080 },
  staticPort: 9000,
  staticHosts: [],
  backends: [
    {
      name: 'be_web',
      service: 'web',
      hostnames: ['web.localhost'],
      slots: [
        { id: 'a', host: '127.0.0.1', port: 3001, status: 'ready' },
        { id: 'b', host: '127.0.0.1', port: 3002, status: 'ready' },
        { id: null, host: '127.0.0.1', port: 1, status: 'free' },
      ],
    },
  ],
};
const row = (server: string, addr: string, status: string, backend = 'be_web'): ServerStat => ({
  backend,
  server,
  addr,
  scur: 0,
  stot: 0,
  status,
});

describe('reconcileState (a daemon adopting a running HAProxy)', () => {
  it('takes addresses and states from HAProxy, ids from the saved state where the address still matches', () => {
    const rows = [
      row('s1', '127.0.0.1:3001', 'no check'),
      row('s2', '127.0.0.1:3005', 'DRAIN'),
      row('s3', '127.0.0.1:1', 'MAINT'),
      row('static', '127.0.0.1:9000', 'no check', 'be_static'),
    ];
    expect(reconcileState(saved, rows)?.backends[0].slots).toEqual([
      { id: 'a', host: '127.0.0.1', port: 3001, status: 'ready' },
      { id: null, host: '127.0.0.1', port: 3005, status: 'drain' },
      { id: null, host: '127.0.0.1', port: 1, status: 'free' },
    ]);
  });

  it('a replica in maintenance on a real address is draining', () => {
    const rows = [
      row('s1', '127.0.0.1:3001', 'MAINT'),
      row('s2', '127.0.0.1:3002', 'UP'),
      row('s3', '127.0.0.1:1', 'MAINT'),
    ];
    expect(reconcileState(saved, rows)?.backends[0].slots.map((s) => s.status)).toEqual([
      'drain',
      'ready',
      'free',
    ]);
  });

  it('is null when the backends or their slot counts differ from what was saved', () => {
    expect(reconcileState(saved, [row('s1', '127.0.0.1:3001', 'UP')])).toBeNull();
    expect(reconcileState(saved, [row('s1', '127.0.0.1:3001', 'UP', 'be_other')])).toBeNull();
  });
});
