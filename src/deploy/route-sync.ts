import path from 'node:path';
import { readArtifact } from '../build/index.js';
import type { EdgeDriver } from '../edge/driver.js';
import type { Route, RoutingTable } from '../edge/routing-table.js';
import type { Store } from '../store/store.js';
import { type SiteOptions, scopeOf } from './context.js';

/**
 * Derives the routing table from the store (active deployment of each service, its running
 * replicas) and hands it to the edge. Calls are serialised so tables arrive in order.
 */
export class RouteSync {
  private chain: Promise<void> = Promise.resolve();
  private version = Date.now();

  constructor(
    private readonly store: Store,
    private readonly edge: EdgeDriver,
    private readonly site: SiteOptions,
  ) {}

  table(): RoutingTable {
    const routes: Route[] = [];
    for (const d of this.store.activeDeployments()) {
      const scope = scopeOf(this.store, d, this.site);
      const base = {
        hostnames: [scope.hostname],
        project: scope.project.name,
        environment: scope.environment.name,
        service: scope.service.name,
        deploymentId: d.id,
      };
      const artifact = d.artifactPath ? readArtifact(d.artifactPath) : null;
      if (artifact?.kind === 'static' && d.artifactPath) {
        routes.push({
          ...base,
          kind: 'static',
          targets: [],
          staticRoot: path.join(d.artifactPath, 'app', artifact.staticRoot ?? '.'),
        });
        continue;
      }
      const targets = this.store
        .instancesOf(d.id)
        .filter((i) => i.state === 'running')
        .map((i) => ({ id: i.id, host: '127.0.0.1', port: i.port }));
      routes.push({ ...base, kind: 'proxy', targets, staticRoot: null });
    }
    this.version += 1;
    return { version: this.version, routes };
  }

  /** Recomputes and applies the table; resolves once the edge serves it. */
  sync(): Promise<void> {
    const next = this.chain.then(() => this.edge.apply(this.table()));
    this.chain = next.catch(() => undefined);
    return next;
  }
}
