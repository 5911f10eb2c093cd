import path from 'node:path';
import { readArtifact } from '../build/index.js';
import type { Deployment, EdgeConfig } from '../core/model.js';
import { engineOf } from '../data/engines.js';
import type { EdgeDriver } from '../edge/driver.js';
import type {
  PrivateEndpoint,
  Route,
  RoutePolicy,
  RouteTarget,
  RoutingTable,
} from '../edge/routing-table.js';
import type { HostsEntry } from '../lib/hosts-file.js';
import { byCodePoint } from '../lib/order.js';
import type { Store } from '../store/store.js';
import type { CertificateManager } from '../tls/certificates.js';
import { type SiteOptions, scopeOf, siteOf } from './context.js';
import { effectivePolicy, routePolicy } from './edge-policy.js';
import { claimKey, hostnameClaims, hostnameOwners } from './hostname-claims.js';
import { type PrivateHosts, privatePortOf } from './private-network.js';

/** What buckets add (src/buckets): the object store's routes, and its config brought up to date first. */
export interface StorageRoutes {
  routes(): Route[];
  /** Writes the store's config and waits until it serves it; never throws (failures are the hook's to log). */
  settle(): Promise<void>;
}

/**
 * Derives the routing table from the store (active deployment of each service, its running
 * replicas, its private endpoint) and hands it to the edge, then brings the hosts file's private
 * names up to date. Calls are serialised so tables arrive in order.
 */
export class RouteSync {
  private chain: Promise<void> = Promise.resolve();
  private version = Date.now();
  /** Where an asleep deployment's traffic goes instead of its replicas (app-sleep.ts); null: awake. */
  sleeping: (deploymentId: string) => RouteTarget | null = () => null;
  private storage: StorageRoutes | null = null;

  constructor(
    private readonly store: Store,
    private readonly edge: EdgeDriver,
    private readonly site: SiteOptions,
    private readonly hosts: PrivateHosts | null = null,
    private readonly certs: CertificateManager | null = null,
  ) {}

  /** Set once by the deploy engine: buckets' routes join every table. */
  setStorage(storage: StorageRoutes): void {
    this.storage = storage;
  }

  table(): RoutingTable {
    const routes: Route[] = [];
    const privateEndpoints: PrivateEndpoint[] = [];
    const custom = new Map<string, string[]>();
    const redirect = new Map<string, string[]>();
    for (const c of this.store.domains.list()) {
      const key = `${c.serviceId}/${c.environmentId}`;
      custom.set(key, [...(custom.get(key) ?? []), c.hostname]);
      if (c.httpsRedirect && this.site.httpsPort != null) {
        redirect.set(key, [...(redirect.get(key) ?? []), c.hostname]);
      }
    }
    // A host name claimed twice goes to its owner only; the other route never gets that traffic.
    const owners = hostnameOwners(hostnameClaims(this.store, this.site.domain));
    for (const d of this.store.deployments.listActive()) {
      const scope = scopeOf(this.store, d, this.site);
      const key = claimKey(d.serviceId, d.environmentId);
      const claimed = [scope.hostname, ...(custom.get(key) ?? [])];
      const base = {
        hostnames: claimed.filter((h) => (owners.get(h)?.key ?? key) === key),
        project: scope.project.name,
        environment: scope.environment.name,
        service: scope.service.name,
        serviceId: d.serviceId,
        environmentId: d.environmentId,
        deploymentId: d.id,
        ...policyOf(d, this.store.edgePolicies.of(d.serviceId, d.environmentId)),
        ...(redirect.has(key)
          ? { redirectToHttps: redirect.get(key)?.filter((h) => owners.get(h)?.key === key) }
          : {}),
      };
      const artifact = d.artifactPath ? readArtifact(d.artifactPath) : null;
      if (artifact?.kind === 'static' && d.artifactPath) {
        routes.push({
          ...base,
          kind: 'static',
          targets: [],
          staticRoot: path.join(d.artifactPath, 'app', artifact.staticRoot ?? '.'),
          staticAppDir: path.join(d.artifactPath, 'app'),
          ...(artifact.staticFallback ? { staticFallback: artifact.staticFallback } : {}),
        });
        continue;
      }
      const wake = this.sleeping(d.id);
      const targets = wake
        ? [wake]
        : this.store.workloads
            .ofDeployment(d.id)
            .filter((w) => w.state === 'running')
            .map((w) => ({ id: w.id, host: '127.0.0.1', port: w.ports.http ?? 0 }));
      routes.push({ ...base, kind: 'proxy', targets, staticRoot: null });
      privateEndpoints.push({
        name: scope.privateDomain,
        host: scope.privateAddress.ip,
        port: privatePortOf(d, scope.privateAddress),
        deploymentId: d.id,
        targets,
      });
    }
    privateEndpoints.push(...this.publicDataEndpoints());
    if (this.storage) routes.push(...this.storage.routes());
    this.version += 1;
    return { version: this.version, routes, privateEndpoints };
  }

  /**
   * Private names of data services: they listen on their private address themselves (apps reach PGHOST:5432
   * with no proxy in between), so they are in the hosts file but never in the edge's private endpoints.
   */
  private dataServiceHosts(): HostsEntry[] {
    return this.store.dataServices.list().map((ds) => {
      const site = siteOf(this.store, ds.serviceId, ds.environmentId, this.site);
      return { ip: site.privateAddress.ip, names: [site.privateDomain] };
    });
  }

  /**
   * Public data services (`berth db public on`): the edge listens on the public host at the service's public
   * port and forwards TCP to the engine's private address, like a private endpoint (and like it, on without
   * the daemon). Their names are not `.internal`, so they stay out of the hosts file.
   */
  private publicDataEndpoints(): PrivateEndpoint[] {
    return this.store.dataServices
      .list()
      .filter((ds) => ds.publicPort !== null)
      .map((ds) => {
        const site = siteOf(this.store, ds.serviceId, ds.environmentId, this.site);
        return {
          name: `${site.privateDomain} (public)`,
          host: this.site.bindHost ?? '0.0.0.0',
          port: ds.publicPort as number,
          deploymentId: `data-service:${ds.id}`,
          targets: [{ id: ds.id, host: site.privateAddress.ip, port: engineOf(ds.engine).port }],
        };
      });
  }

  /** Every host name the edge routes now (generated and custom). */
  hostnames(): string[] {
    return this.table().routes.flatMap((r) => r.hostnames);
  }

  /** Recomputes and applies the table; resolves once the edge serves it. */
  sync(): Promise<void> {
    const next = this.chain.then(async () => {
      // The store serves a bucket (its keys, its public hosts) before the edge sends it requests.
      await this.storage?.settle();
      const table = this.table();
      // Certificates first: the edge re-reads them with the table, so a new host name is HTTPS-ready at once.
      await this.certs?.prepare(table.routes.flatMap((r) => r.hostnames));
      await this.edge.apply(table);
      const entries = [...hostsEntries(table), ...this.dataServiceHosts()];
      await this.hosts?.sync(
        this.store,
        entries.sort((a, b) => byCodePoint(a.names[0], b.names[0])),
      );
    });
    this.chain = next.catch(() => undefined);
    return next;
  }
}

function policyOf(d: Deployment, api: Partial<EdgeConfig>): { policy?: RoutePolicy } {
  const policy = routePolicy(effectivePolicy(d, api).policy);
  return policy ? { policy } : {};
}

function hostsEntries(table: RoutingTable): HostsEntry[] {
  return (table.privateEndpoints ?? [])
    .filter((e) => e.name.endsWith('.internal'))
    .map((e) => ({ ip: e.host, names: [e.name] }))
    .sort((a, b) => byCodePoint(a.names[0], b.names[0]));
}
