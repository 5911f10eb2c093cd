import { UserError } from '../core/errors.js';
import type { Deployment } from '../core/model.js';
import type { Store } from '../store/store.js';

/**
 * Who owns each host name: a service's generated name and custom domains are claims, and when two claim
 * one name (names made before clashes were refused, a changed --domain) the earlier claim keeps it. The
 * later one is never routed, and its deployments fail naming the owner rather than showing SUCCESS.
 */
export interface HostnameClaim {
  hostname: string;
  /** `<serviceId>/<environmentId>`, as routes are keyed. */
  key: string;
  since: string;
  /** For messages: `service "web" of project "shop" (production)`. */
  owner: string;
}

export const claimKey = (serviceId: string, environmentId: string) => `${serviceId}/${environmentId}`;

/** Every claim on a host name: generated names of all services in all environments, and custom domains. */
export function hostnameClaims(store: Store, domain: string): HostnameClaim[] {
  const zone = domain.toLowerCase();
  const describe = (n: { service: string; project: string; environment: string }) =>
    `service "${n.service}" of project "${n.project}" (${n.environment})`;
  const names = store.generatedNames.list();
  const byKey = new Map(names.map((n) => [claimKey(n.serviceId, n.environmentId), n]));
  const claims: HostnameClaim[] = names.map((n) => ({
    hostname: `${n.label}.${zone}`,
    key: claimKey(n.serviceId, n.environmentId),
    since: n.since,
    owner: describe(n),
  }));
  for (const c of store.domains.list()) {
    const key = claimKey(c.serviceId, c.environmentId);
    const n = byKey.get(key);
    claims.push({ hostname: c.hostname, key, since: c.createdAt, owner: n ? describe(n) : key });
  }
  return claims;
}

/** Host name → the claim that keeps it: the earliest, ties broken by key so every sync agrees. */
export function hostnameOwners(claims: HostnameClaim[]): Map<string, HostnameClaim> {
  const owners = new Map<string, HostnameClaim>();
  for (const c of claims) {
    const held = owners.get(c.hostname);
    if (!held || c.since < held.since || (c.since === held.since && c.key < held.key)) {
      owners.set(c.hostname, c);
    }
  }
  return owners;
}

/** Fails a deployment (before anything is built) whose generated host name another service owns. */
export function assertOwnsHostname(store: Store, d: Deployment, hostname: string, domain: string): void {
  const owner = hostnameOwners(hostnameClaims(store, domain)).get(hostname);
  if (!owner || owner.key === claimKey(d.serviceId, d.environmentId)) return;
  throw new UserError(
    `the generated host name ${hostname} already belongs to ${owner.owner}, which had it first; this service would never get its traffic, so it is not deployed (create it under another name)`,
    { status: 409, code: 'hostname_taken' },
  );
}
