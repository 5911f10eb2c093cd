/**
 * Turns a RoutingTable into HAProxy state: one backend per proxy route with a fixed number of server
 * slots, and the runtime API commands that move the running HAProxy from the previous state to the new
 * one. Pure: the driver feeds it the previous state and which addresses still have sessions.
 *
 * A reload is only needed when the layout changes (listeners, certificates, backends, host names, HTTPS
 * redirects, slot counts, the helper's port); replica changes fill, drain or free slots through `set server`.
 */

import { createHash } from 'node:crypto';
import { byCodePoint } from '../../lib/order.js';
import { DEFAULT_CONNECTIONS_PER_IP } from '../conn-limit.js';
import type { RoutePolicy, RoutingTable } from '../routing-table.js';
import { DEPLOYMENTS_MAP_FILE, effectivePolicy } from './policy.js';

/** ready: in the table; drain: left the table, may still finish requests; free: maint, placeholder address. */
export type SlotStatus = 'ready' | 'drain' | 'free';

export interface Slot {
  /** Instance id of the target this slot carries (null when free or unknown). */
  id: string | null;
  host: string;
  port: number;
  status: SlotStatus;
}

export interface Backend {
  name: string;
  service: string;
  hostnames: string[];
  slots: Slot[];
  /** Active deployment: part of the cache key, changed at runtime (absent in states saved before the cache). */
  deploymentId?: string;
  /** The `[edge]` policy HAProxy enforces here; null/absent: none. */
  policy?: RoutePolicy | null;
}

/** A static site with an `[edge]` policy: its own backend (policy rules, then the helper edge). */
export interface StaticPolicyBackend {
  name: string;
  service: string;
  hostnames: string[];
  policy: RoutePolicy;
}

/** A certificate file of `<edge-state>/certs` as HAProxy loads it: selected by SNI = `name` (maybe `*.domain`). */
export interface CertFile {
  name: string;
  file: string;
  /** Content hash: a changed certificate (renewal) changes the layout, so it is reloaded. */
  hash: string;
}

export interface TlsListener {
  port: number;
  certs: CertFile[];
}

export interface HaproxyState {
  /** Routing table version this state was built from. */
  version: number;
  listen: { host: string; port: number };
  /** The HTTPS listener (same host as `listen`); null/absent: HTTP only. */
  tls?: TlsListener | null;
  /**
   * Loopback port of the built-in helper edge: static sites, ACME HTTP-01 challenges and private endpoints.
   * Null only in states saved before the helper always ran.
   */
  staticPort: number | null;
  staticHosts: string[];
  /** [host, https origin] pairs: plain-HTTP requests for host get a 308 to the origin (host has a certificate). */
  redirects?: [string, string][];
  backends: Backend[];
  /** Static sites whose policy HAProxy enforces (their hosts are not in staticHosts). */
  staticPolicies?: StaticPolicyBackend[];
  /** Most connections per client IP (0: no limit); absent in states saved before it: the default. */
  connectionsPerIp?: number;
}

export interface Plan {
  next: HaproxyState;
  /** Runtime API commands, when no reload is needed. */
  commands: string[];
  reload: boolean;
}

export const MIN_SLOTS = 8;
/** A free slot points here (nothing listens on port 1); it is in maint, so it never gets traffic. */
export const PLACEHOLDER = { host: '127.0.0.1', port: 1 };

const HOSTNAME = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;

/** Host names HAProxy's map file can carry; anything else would never match a normalised Host anyway. */
export function validHostname(h: string): boolean {
  return h.length <= 253 && HOSTNAME.test(h);
}

/** Stable backend name per project/environment/service: readable prefix plus a hash against collisions. */
export function backendName(project: string, environment: string, service: string): string {
  const readable = `${project}.${environment}.${service}`
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .slice(0, 48);
  const hash = createHash('sha1').update(`${project}\0${environment}\0${service}`).digest('hex').slice(0, 8);
  return `be_${readable}_${hash}`;
}

function slotCountFor(n: number): number {
  let size = MIN_SLOTS;
  while (size < n * 2) size *= 2;
  return size;
}

/** What a reload changes: everything but the slots' contents. */
export function layoutKey(s: HaproxyState): string {
  return JSON.stringify({
    listen: s.listen,
    tls: s.tls ?? null,
    staticPort: s.staticPort,
    staticHosts: s.staticHosts,
    redirects: s.redirects ?? [],
    backends: s.backends.map((b) => [b.name, b.service, b.hostnames, b.slots.length, b.policy ?? null]),
    staticPolicies: s.staticPolicies ?? [],
    connectionsPerIp: s.connectionsPerIp ?? DEFAULT_CONNECTIONS_PER_IP,
    // States saved before the cache have no deployment ids, and their haproxy.cfg no cache rules.
    cacheKeys: s.backends.every((b) => b.deploymentId !== undefined),
  });
}

const freeSlot = (): Slot => ({ id: null, ...PLACEHOLDER, status: 'free' });
const addrOf = (h: { host: string; port: number }) => `${h.host}:${h.port}`;

/**
 * @param prev the state HAProxy runs now (null: nothing known, reload with the full state)
 * @param busy "host:port" of servers that still have sessions (in any worker)
 */
export function planState(
  prev: HaproxyState | null,
  table: RoutingTable,
  opts: {
    listen: { host: string; port: number };
    tls?: TlsListener | null;
    staticPort: number | null;
    busy: ReadonlySet<string>;
    /** Path of the deployments map as haproxy.cfg names it (runtime `set map` needs the same string). */
    deploymentsMap?: string;
  },
): Plan {
  const tls = opts.tls ?? null;
  const commands: string[] = [];
  const freeCmds: string[] = [];
  const readyCmds: string[] = [];
  const drainCmds: string[] = [];
  const prevBackends = new Map((prev?.backends ?? []).map((b) => [b.name, b]));
  const staticHosts: string[] = [];
  const backends: Backend[] = [];
  const redirects: [string, string][] = [];
  const staticPolicies: StaticPolicyBackend[] = [];

  for (const route of table.routes) {
    const hostnames = route.hostnames.filter(validHostname).sort();
    if (tls !== null) {
      const certNames = new Set(tls.certs.map((c) => c.name));
      for (const h of route.redirectToHttps ?? []) {
        const host = h.toLowerCase();
        if (!validHostname(host) || !hasCertificate(certNames, host)) continue;
        redirects.push([host, tls.port === 443 ? `https://${host}` : `https://${host}:${tls.port}`]);
      }
    }
    const name = backendName(route.project, route.environment, route.service);
    const policy = effectivePolicy(route.policy);
    if (route.kind === 'static') {
      if (policy === null) staticHosts.push(...hostnames);
      else staticPolicies.push({ name, service: route.service, hostnames, policy });
      continue;
    }
    const old = prevBackends.get(name);
    const slots: Slot[] = old ? old.slots.map((s) => ({ ...s })) : [];
    const targets = new Map(route.targets.map((t) => [addrOf(t), t]));
    const placed = new Set<string>();
    let grow = false;
    const cmd = (slot: number, c: string) => c.replace('%s', `${name}/s${slot + 1}`);

    slots.forEach((s, i) => {
      if (s.status === 'free') return;
      const t = targets.get(addrOf(s));
      if (t) {
        placed.add(addrOf(t));
        if (s.status !== 'ready') readyCmds.push(cmd(i, 'set server %s state ready'));
        slots[i] = { id: t.id, host: t.host, port: t.port, status: 'ready' };
      } else if (s.status === 'ready') {
        drainCmds.push(cmd(i, 'set server %s state drain'));
        slots[i] = { ...s, status: 'drain' };
      } else if (!opts.busy.has(addrOf(s))) {
        // Drained and idle: free the slot (maint also closes HAProxy's idle connections to it).
        freeCmds.push(cmd(i, 'set server %s state maint'));
        slots[i] = freeSlot();
      }
    });

    for (const t of route.targets) {
      if (placed.has(addrOf(t))) continue;
      placed.add(addrOf(t));
      const i = slots.findIndex((s) => s.status === 'free');
      if (i < 0) {
        grow = true;
        slots.push({ id: t.id, host: t.host, port: t.port, status: 'ready' });
        continue;
      }
      slots[i] = { id: t.id, host: t.host, port: t.port, status: 'ready' };
      // A free slot is in maint already (rendered disabled or set so when freed).
      readyCmds.push(
        cmd(i, `set server %s addr ${t.host} port ${t.port}`),
        cmd(i, 'set server %s state ready'),
      );
    }

    const used = slots.filter((s) => s.status !== 'free').length;
    const finalSlots = grow || !old ? resize(slots, slotCountFor(used)) : slots;
    backends.push({
      name,
      service: route.service,
      hostnames,
      slots: finalSlots,
      deploymentId: route.deploymentId,
      policy,
    });
  }

  backends.sort((a, b) => byCodePoint(a.name, b.name));
  staticHosts.sort();
  const next: HaproxyState = {
    version: table.version,
    listen: opts.listen,
    tls,
    staticPort: opts.staticPort,
    staticHosts,
    redirects: redirects.sort((a, b) => byCodePoint(a[0], b[0])),
    backends,
    staticPolicies: staticPolicies.sort((a, b) => byCodePoint(a.name, b.name)),
    connectionsPerIp: table.connectionsPerIp ?? DEFAULT_CONNECTIONS_PER_IP,
  };
  // Freed slots first (a new replica may reuse one), then new replicas, then drains: a service is never
  // without a ready server in between.
  // The cache key moves to the new deployment last: once the old replicas take no new request, nothing
  // of theirs can be stored under it.
  const keyCmds = next.backends
    .filter((b) => b.deploymentId !== undefined && prevBackends.get(b.name)?.deploymentId !== b.deploymentId)
    .map((b) => `set map ${opts.deploymentsMap ?? DEPLOYMENTS_MAP_FILE} ${b.name} ${b.deploymentId}`);
  commands.push(...freeCmds, ...readyCmds, ...drainCmds, ...keyCmds);
  const reload = prev === null || layoutKey(prev) !== layoutKey(next);
  return { next, commands: reload ? [] : commands, reload };
}

/** Same rule as the built-in edge (certificates.ts): an exact name, else a wildcard one level up. */
export function hasCertificate(names: ReadonlySet<string>, host: string): boolean {
  if (names.has(host)) return true;
  const dot = host.indexOf('.');
  return dot > 0 && names.has(`*${host.slice(dot)}`);
}

function resize(slots: Slot[], wanted: number): Slot[] {
  const out = slots.slice();
  while (out.length < wanted) out.push(freeSlot());
  return out;
}
