/**
 * What the store and the edge serve for buckets, derived from the store's rows: the store's config (every
 * bucket's keys, the storage host, public hosts) and the edge routes in front of it (pure over a Store read).
 */
import { claimKey, hostnameClaims, hostnameOwners } from '../deploy/hostname-claims.js';
import type { Route } from '../edge/routing-table.js';
import type { Store } from '../store/store.js';
import { BUCKET_REGION, publicHostOf, storageHostOf, virtualHostOf } from './names.js';
import type { WantedConfig } from './object-store.js';

export interface StorageLayout {
  config: WantedConfig;
  routes: Route[];
}

/** The edge's id for the store as a target (its stats and draining are keyed by it). */
const STORE_TARGET = 'object-store';

export function storageLayout(
  store: Store,
  domain: string,
  address: { host: string; port: number } | null,
  /** S3 names of buckets being deleted: the store removes their data once none of them has a row any more. */
  doomed: ReadonlySet<string> = new Set(),
): StorageLayout {
  const buckets = store.buckets.list();
  const live = new Set(buckets.map((b) => b.s3Name));
  const storageHost = storageHostOf(domain);
  const owners = hostnameOwners(hostnameClaims(store, domain));
  const customOf = new Map<string, string[]>();
  for (const c of store.domains.list()) {
    const key = claimKey(c.serviceId, c.environmentId);
    if ((owners.get(c.hostname)?.key ?? key) !== key) continue;
    customOf.set(key, [...(customOf.get(key) ?? []), c.hostname]);
  }
  const publicHosts: Record<string, string> = {};
  const routes: Route[] = [];
  const targets = address ? [{ id: STORE_TARGET, ...address }] : [];
  if (buckets.length > 0) {
    routes.push({
      hostnames: [storageHost],
      // Names no project, environment or service can have (HAProxy names backends after them).
      project: '(berth)',
      environment: '(storage)',
      service: '(object store)',
      deploymentId: STORE_TARGET,
      kind: 'proxy',
      targets,
      staticRoot: null,
    });
  }
  for (const b of buckets) {
    const service = store.services.getById(b.serviceId);
    const environment = store.environments.getById(b.environmentId);
    const project = store.projects.getById(service.projectId);
    const hostnames = [virtualHostOf(b.s3Name, domain)];
    if (b.public) {
      const site = [
        publicHostOf(b.s3Name, domain),
        ...(customOf.get(claimKey(b.serviceId, b.environmentId)) ?? []),
      ];
      for (const h of site) publicHosts[h] = b.s3Name;
      hostnames.push(...site);
    }
    // One route per bucket (HAProxy has one backend per service and environment). The edge cache keys entries
    // by deploymentId: making the bucket private changes it, which drops what was cached while public.
    routes.push({
      hostnames,
      project: project.name,
      environment: environment.name,
      service: service.name,
      serviceId: b.serviceId,
      environmentId: b.environmentId,
      deploymentId: `bucket:${b.id}:${b.public ? 'public' : 'private'}`,
      kind: 'proxy',
      targets,
      staticRoot: null,
    });
  }
  return {
    config: {
      region: BUCKET_REGION,
      storageHosts: [storageHost],
      buckets: buckets.map((b) => ({
        name: b.s3Name,
        accessKeyId: b.accessKeyId,
        secretAccessKey: b.secretAccessKey,
        public: b.public,
      })),
      publicHosts,
      // A deletion that was refused after its hook ran leaves the row: such a name is never sent.
      deletedBuckets: [...doomed].filter((n) => !live.has(n)).sort(),
    },
    routes,
  };
}
