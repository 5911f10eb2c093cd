/**
 * The driver's saved state checked against what a running worker really has (`show stat` rows), for a daemon
 * that adopts a running HAProxy. Pure: tested with rows as HAProxy prints them.
 */

import { type HaproxyState, PLACEHOLDER, type Slot } from './plan.js';
import type { ServerStat } from './runtime-api.js';

export function freeSlot(): Slot {
  return { id: null, ...PLACEHOLDER, status: 'free' };
}

/**
 * Addresses and states come from HAProxy, instance ids from the saved state where the address still matches.
 * Returns null (the next apply reloads with the full state) when the backends or slot counts do not match.
 */
export function reconcileState(saved: HaproxyState, rows: ServerStat[]): HaproxyState | null {
  const live = new Map<string, ServerStat[]>();
  const helperBackends = new Set([
    'be_static',
    'be_not_found',
    ...(saved.staticPolicies ?? []).map((s) => s.name),
  ]);
  for (const r of rows) {
    if (!r.backend.startsWith('be_') || helperBackends.has(r.backend)) continue;
    live.set(r.backend, [...(live.get(r.backend) ?? []), r]);
  }
  if (live.size !== saved.backends.length) return null;
  const backends = [];
  for (const b of saved.backends) {
    const servers = live.get(b.name);
    if (!servers || servers.length !== b.slots.length) return null;
    const slots: Slot[] = b.slots.map((s, i) => {
      const r = servers.find((x) => x.server === `s${i + 1}`);
      if (!r) return freeSlot();
      const [host, portText] = splitAddr(r.addr);
      const port = Number(portText);
      const placeholder = host === PLACEHOLDER.host && port === PLACEHOLDER.port;
      const status = r.status.startsWith('MAINT')
        ? placeholder
          ? 'free'
          : 'drain'
        : r.status.startsWith('DRAIN')
          ? 'drain'
          : 'ready';
      if (status === 'free') return freeSlot();
      const id = s.host === host && s.port === port ? s.id : null;
      return { id, host, port, status };
    });
    backends.push({ ...b, slots });
  }
  return { ...saved, backends };
}

function splitAddr(addr: string): [string, string] {
  const i = addr.lastIndexOf(':');
  return i < 0 ? [addr, ''] : [addr.slice(0, i), addr.slice(i + 1)];
}
