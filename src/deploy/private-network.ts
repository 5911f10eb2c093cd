/**
 * Private networking, Railway-style: every service in an environment is reachable by the other services
 * at `<service>.<environment>.<project>.internal` on its private port, without going through the public
 * edge or knowing its replicas' ports.
 *
 * - Address: the service's own loopback IP in the daemon's private net (`127.77.x.y` unless another daemon
 *   on the machine claimed it), from its private-endpoint number (store.privateEndpoints.seq).
 * - Port: the service's `PORT` variable when set (as on Railway, where it names the port the app serves),
 *   else 10000 + its number; `${{api.PORT}}` resolves to it. Replicas themselves always get a free port
 *   of their own in `$PORT`, so several replicas and overlapping deploys never collide.
 * - Forwarding: the edge listens on each ip:port and forwards TCP to the healthy replicas (edge/private-net).
 * - Names: a managed block in the hosts file (lib/hosts-file), which every resolver reads.
 */

import type { Deployment } from '../core/model.js';
import { claimPrivateNet, type HostsEntry, writeHostsBlock } from '../lib/hosts-file.js';
import type { Store } from '../store/store.js';

export const DEFAULT_PRIVATE_NET = '127.77';
const NET_META_KEY = 'private_net';
const FIRST_DEFAULT_PORT = 10_000;
/** Keeps default ports below Linux's ephemeral range (32768+), where replicas' free ports come from. */
const MAX_SEQ = 22_000;

function label(name: string): string {
  const l = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return l === '' ? 'x' : l.slice(0, 63);
}

export function privateDomain(p: { service: string; environment: string; project: string }): string {
  return `${label(p.service)}.${label(p.environment)}.${label(p.project)}.internal`;
}

export interface PrivateAddress {
  ip: string;
  /** The port used when the service sets no PORT variable. */
  defaultPort: number;
}

export function privateAddress(net: string, seq: number): PrivateAddress {
  if (!Number.isInteger(seq) || seq < 1 || seq > MAX_SEQ) {
    throw new Error(`private endpoint number ${seq} is out of range 1-${MAX_SEQ}`);
  }
  const i = seq - 1; // last octet 1-254: no .0 or .255 addresses, which some tools treat specially
  return { ip: `${net}.${Math.floor(i / 254)}.${(i % 254) + 1}`, defaultPort: FIRST_DEFAULT_PORT + seq };
}

/** The private net this daemon allocates from (claimed in the hosts file at start). */
export function privateNetOf(store: Store): string {
  return store.meta.find(NET_META_KEY) ?? DEFAULT_PRIVATE_NET;
}

export function privateAddressOf(store: Store, serviceId: string, environmentId: string): PrivateAddress {
  return privateAddress(privateNetOf(store), store.privateEndpoints.seq(serviceId, environmentId));
}

/** The PORT variable as a port number, or null when unset; throws a sentence when it is not a port. */
export function portVariable(variables: Record<string, string>): number | null {
  const raw = variables.PORT;
  if (raw === undefined) return null;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isInteger(n) || n < 1 || n > 65535) {
    throw new Error(
      `the PORT variable is "${raw}", which is not a TCP port number (1-65535); it sets the service's private port`,
    );
  }
  return n;
}

/** The port other services reach a deployment's service on. */
export function privatePortOf(d: Deployment, address: PrivateAddress): number {
  try {
    return portVariable(d.variables) ?? address.defaultPort;
  } catch {
    return address.defaultPort; // the pipeline refuses such a deployment before it can be active
  }
}

/**
 * Keeps the daemon's block of the hosts file in step with the private endpoints. A hosts file Berth may
 * not write (not root) is reported once and otherwise ignored: the endpoints still work by IP.
 */
export class PrivateHosts {
  private last = '';
  private warned = false;

  constructor(
    private readonly file: string,
    private readonly dataDir: string,
    private readonly log: (msg: string) => void,
  ) {}

  /** Claims this daemon's private net (keeping the one it had) and records it in the store. */
  async claimNet(store: Store): Promise<void> {
    try {
      const forced = process.env.BERTH_PRIVATE_NET;
      if (forced !== undefined && !/^127\.(\d{1,2}|1\d\d|2[0-4]\d|25[0-5])$/.test(forced)) {
        throw new Error(`BERTH_PRIVATE_NET is "${forced}"; it must look like 127.77`);
      }
      const net = await claimPrivateNet(this.file, this.dataDir, forced ?? store.meta.find(NET_META_KEY));
      if (net !== store.meta.find(NET_META_KEY)) store.meta.set(NET_META_KEY, net);
    } catch (err) {
      this.warn(err as Error);
    }
  }

  async sync(store: Store, entries: HostsEntry[]): Promise<void> {
    const key = JSON.stringify(entries);
    if (key === this.last) return;
    try {
      await writeHostsBlock(this.file, this.dataDir, privateNetOf(store), entries);
      this.last = key;
    } catch (err) {
      this.warn(err as Error);
    }
  }

  private warn(err: Error): void {
    if (this.warned) return;
    this.warned = true;
    this.log(
      `${err.message}; private domains (*.internal) will not resolve by name. Run berth server as root, ` +
        'or point BERTH_HOSTS_FILE at a hosts file your resolver reads.',
    );
  }
}
