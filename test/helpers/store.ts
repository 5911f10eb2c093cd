import path from 'node:path';
import { afterEach, expect } from 'vitest';
import type { Environment, Project, Service } from '../../src/core/model.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/store.js';
import { makeTmpDir } from './tmp.js';

/**
 * Stores on fresh temp files (real SQLite, a generated master key), each closed and removed after its
 * test. Call at the top of a test file; call the returned function in a test for a store.
 */
export function tempStores(): () => Store {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });
  return () => {
    const { dir, cleanup } = makeTmpDir('berth-store-');
    const { store } = openStore(path.join(dir, 'state.db'), dir);
    cleanups.push(() => {
      store.close();
      cleanup();
    });
    return store;
  };
}

/** A project with its production environment and one service. */
export function seedProject(
  store: Store,
  name = 'shop',
  service = 'web',
): { project: Project; environment: Environment; service: Service } {
  const { project, environments } = store.projects.create(name);
  return { project, environment: environments[0], service: store.services.create(project, service) };
}

/** A project with a PostgreSQL service `name` and its data service in production. */
export function seedPostgres(store: Store, name = 'Postgres') {
  const { project, environment } = seedProject(store);
  const service = store.services.create(project, name, 'postgres');
  const ds = store.dataServices.create({
    serviceId: service.id,
    environmentId: environment.id,
    engine: 'postgres',
    version: '15',
    username: 'postgres',
    database: 'railway',
    password: 'hunter2hunter2',
  });
  return { project, environment, service, ds };
}

/** A raw row of a table, for checking what is stored (sealed values, columns no mapper exposes). */
export function rawRow(store: Store, sql: string, ...params: unknown[]): Record<string, unknown> {
  const row = store.db.prepare(sql).get(...params) as Record<string, unknown> | undefined;
  expect(row, sql).toBeDefined();
  return row as Record<string, unknown>;
}

/** The error a call throws (a test fails when it does not throw). */
export function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}
