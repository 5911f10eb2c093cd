import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RouteSync } from '../../src/deploy/route-sync.js';
import type { EdgeDriver } from '../../src/edge/driver.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/store.js';
import { makeTmpDir } from '../helpers/tmp.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function freshStore(): Store {
  const { dir, cleanup } = makeTmpDir('berth-claims-');
  const { store } = openStore(path.join(dir, 'state.db'), dir);
  cleanups.push(() => {
    store.close();
    cleanup();
  });
  return store;
}

/** A service row as Berth accepted it before clashes were refused (no check), created at `at`. */
function legacyService(store: Store, projectId: string, name: string, at: string): string {
  const id = randomUUID();
  store.db
    .prepare('INSERT INTO services (id, project_id, name, created_at) VALUES (?, ?, ?, ?)')
    .run(id, projectId, name, at);
  return id;
}

function activate(store: Store, serviceId: string, environmentId: string): void {
  const d = store.deployments.create({
    serviceId,
    environmentId,
    kind: 'up',
    message: null,
    sourcePath: '',
    sourceDeploymentId: null,
  });
  store.deployments.setActive(serviceId, environmentId, d.id);
}

describe('route sync with two claims on one host name', () => {
  it('routes the name to the earlier claim only, whatever order the routes come in', () => {
    const store = freshStore();
    const {
      project: q,
      environments: [qProd],
    } = store.projects.create('q');
    const {
      project: pq,
      environments: [pqProd],
    } = store.projects.create('p-q');
    // The later service is inserted first, so table order alone would hand it the name.
    const late = legacyService(store, pq.id, 'svc', '2030-01-01T00:00:00.000Z');
    const early = legacyService(store, q.id, 'svc-p', '2029-01-01T00:00:00.000Z');
    activate(store, late, pqProd.id);
    activate(store, early, qProd.id);
    const sync = new RouteSync(store, null as unknown as EdgeDriver, { domain: 'localhost', httpPort: 80 });
    const routes = sync.table().routes;
    const owner = routes.find((r) => r.serviceId === early);
    const other = routes.find((r) => r.serviceId === late);
    expect(owner?.hostnames).toEqual(['svc-p-q.localhost']);
    expect(other?.hostnames).toEqual([]);
    expect(sync.hostnames().filter((h) => h === 'svc-p-q.localhost')).toHaveLength(1);
  });
});
