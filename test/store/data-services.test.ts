import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../src/store/db.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { rawRow, seedProject, tempStores } from '../helpers/store.js';
import { makeTmpDir } from '../helpers/tmp.js';

const openStore = tempStores();

describe('store.dataServices', () => {
  it('keeps a data service per environment, its password sealed at rest', () => {
    const store = openStore();
    const { project, environment } = seedProject(store);
    const service = store.services.create(project, 'Postgres', 'postgres');
    expect(service.kind).toBe('postgres');
    const ds = store.dataServices.create({
      serviceId: service.id,
      environmentId: environment.id,
      engine: 'postgres',
      version: '15',
      username: 'postgres',
      database: 'railway',
      password: 'hunter2hunter2',
    });
    expect(store.dataServices.find(service.id, environment.id)).toEqual(ds);
    expect(ds).toMatchObject({ engine: 'postgres', version: '15', settings: {}, publicPort: null });
    const raw = rawRow(store, 'SELECT password FROM data_services WHERE id = ?', ds.id);
    expect(String(raw.password)).toMatch(/^enc:v1:/);
    expect(String(raw.password)).not.toContain('hunter2');

    store.dataServices.setSettings(ds.id, { max_connections: '50' });
    store.dataServices.setPublicPort(ds.id, 15432);
    expect(store.dataServices.getById(ds.id)).toMatchObject({
      settings: { max_connections: '50' },
      publicPort: 15432,
    });
    expect(store.dataServices.publicPorts()).toEqual([15432]);

    // Its engine's workload rows go with it.
    store.workloads.create({
      ownerKind: 'data-service',
      ownerId: ds.id,
      slot: 0,
      ports: {},
      state: 'running',
    });
    store.dataServices.delete(ds.id);
    expect(store.dataServices.findById(ds.id)).toBeNull();
    expect(store.workloads.of(['data-service'], ds.id)).toEqual([]);
  });

  it('goes with its service and with its environment', () => {
    const store = openStore();
    const { project, environment } = seedProject(store);
    const service = store.services.create(project, 'Postgres', 'postgres');
    const base = {
      engine: 'postgres',
      version: '15',
      username: 'postgres',
      database: 'railway',
      password: 'x',
    } as const;
    store.dataServices.create({ ...base, serviceId: service.id, environmentId: environment.id });
    store.services.delete(service.id);
    expect(store.dataServices.list()).toEqual([]);
  });
});

describe('the migration to service kinds', () => {
  it('makes every existing service an app', () => {
    const { dir, cleanup } = makeTmpDir('berth-migrate-');
    try {
      const file = path.join(dir, 'state.db');
      const old = new Database(file);
      const before = MIGRATIONS.length - 1;
      for (const m of MIGRATIONS.slice(0, before)) old.exec(m);
      old.pragma(`user_version = ${before}`);
      old.exec(`
        INSERT INTO projects (id, name, created_at) VALUES ('p', 'shop', 't');
        INSERT INTO services (id, project_id, name, created_at) VALUES ('s', 'p', 'web', 't');
      `);
      old.close();
      const db = openDb(file);
      const row = db.prepare("SELECT kind FROM services WHERE id = 's'").get();
      db.close();
      expect(row).toEqual({ kind: 'app' });
    } finally {
      cleanup();
    }
  });
});
