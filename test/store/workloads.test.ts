import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { NotFoundError } from '../../src/core/errors.js';
import { openDb } from '../../src/store/db.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { toWorkload } from '../../src/store/workloads.js';
import { seedProject, tempStores, thrown } from '../helpers/store.js';
import { makeTmpDir } from '../helpers/tmp.js';

const openStore = tempStores();

describe('store.workloads', () => {
  it('creates, finds and updates a workload of any owner; the handle and ports round-trip as JSON', () => {
    const store = openStore();
    const w = store.workloads.create({
      ownerKind: 'replica',
      ownerId: 'dep-1',
      slot: 2,
      ports: { http: 4100, metrics: 4101 },
      state: 'starting',
    });
    expect(w).toMatchObject({ ownerKind: 'replica', ownerId: 'dep-1', slot: 2, handle: null, restarts: 0 });
    const handle = {
      driver: 'process',
      id: w.id,
      pid: 42,
      startTime: '7',
      logs: { stdout: 'o', stderr: 'e' },
    };
    store.workloads.update(w.id, { handle, state: 'running', restarts: 1, ...({ ownerId: 'x' } as object) });
    expect(store.workloads.get(w.id)).toMatchObject({
      ownerId: 'dep-1',
      handle,
      state: 'running',
      restarts: 1,
      ports: { http: 4100, metrics: 4101 },
    });
    store.workloads.update(w.id, { handle: null, state: 'exited', exitCode: 3 });
    expect(store.workloads.get(w.id)).toMatchObject({ handle: null, state: 'exited', exitCode: 3 });
    expect(store.workloads.find('missing')).toBeNull();
    expect(thrown(() => store.workloads.get('missing'))).toBeInstanceOf(NotFoundError);
  });

  it('lists an owner’s workloads by slot and the live ones by kind', () => {
    const store = openStore();
    const mk = (ownerKind: 'replica' | 'cron-run', ownerId: string, slot: number) =>
      store.workloads.create({ ownerKind, ownerId, slot, ports: {}, state: 'running' });
    const b = mk('replica', 'd', 1);
    const a = mk('replica', 'd', 0);
    const c = mk('cron-run', 'd', 0);
    mk('replica', 'other', 0);
    expect(store.workloads.of(['replica'], 'd').map((w) => w.id)).toEqual([a.id, b.id]);
    expect(store.workloads.of(['replica', 'cron-run'], 'd').map((w) => w.id)).toEqual([a.id, c.id, b.id]);
    expect(store.workloads.ofDeployment('d')).toEqual(store.workloads.of(['replica', 'cron-run'], 'd'));
    store.workloads.update(b.id, { state: 'crashed' });
    expect(store.workloads.live(['replica']).map((w) => w.ownerId)).toEqual(['d', 'other']);
    expect(store.workloads.live(['cron-run']).map((w) => w.id)).toEqual([c.id]);
  });

  it('a deleted deployment takes its replicas and cron runs with it, not other owners’ workloads', () => {
    const store = openStore();
    const { service, environment } = seedProject(store);
    const d = store.deployments.create({
      serviceId: service.id,
      environmentId: environment.id,
      kind: 'up',
      message: null,
      sourcePath: '',
      sourceDeploymentId: null,
    });
    for (const ownerKind of ['replica', 'cron-run'] as const)
      store.workloads.create({ ownerKind, ownerId: d.id, slot: 0, ports: { http: 4100 }, state: 'running' });
    store.deleteEnvironmentRows(environment.id);
    expect(store.workloads.of(['replica', 'cron-run'], d.id)).toEqual([]);
  });

  it('maps a row, tolerating a handle that is not JSON', () => {
    const row = {
      id: 'w',
      owner_kind: 'cron-run',
      owner_id: 'd',
      slot: 0,
      handle_json: '{broken',
      state: 'job',
      restarts: 0,
      exit_code: null,
      ports_json: '{"http":5000,"bad":"x"}',
      stdout_offset: 1,
      stderr_offset: 2,
      created_at: 'c',
      updated_at: 'u',
    };
    expect(toWorkload(row)).toEqual({
      id: 'w',
      ownerKind: 'cron-run',
      ownerId: 'd',
      slot: 0,
      handle: null,
      state: 'job',
      restarts: 0,
      exitCode: null,
      ports: { http: 5000 },
      stdoutOffset: 1,
      stderrOffset: 2,
      worker: false,
      oomKills: 0,
      createdAt: 'c',
      updatedAt: 'u',
    });
  });
});

describe('the migration from instances', () => {
  it('moves every instance into workloads with a process handle pointing at its log files', () => {
    const { dir, cleanup } = makeTmpDir('berth-migrate-');
    try {
      const file = path.join(dir, 'state.db');
      // The schema before workloads, with a deployment that has a running replica, a stopped one and a cron run.
      const old = new Database(file);
      old.pragma('foreign_keys = ON');
      const before = MIGRATIONS.findIndex((m) => m.includes('CREATE TABLE workloads'));
      for (const m of MIGRATIONS.slice(0, before)) old.exec(m);
      old.pragma(`user_version = ${before}`);
      old.exec(`
        INSERT INTO projects (id, name, created_at) VALUES ('p', 'shop', 't');
        INSERT INTO environments (id, project_id, name, created_at) VALUES ('e', 'p', 'production', 't');
        INSERT INTO services (id, project_id, name, created_at) VALUES ('s', 'p', 'web', 't');
        INSERT INTO deployments (id, service_id, environment_id, seq, status, kind, source_path, created_at, updated_at)
          VALUES ('d', 's', 'e', 1, 'SUCCESS', 'up', '', 't', 't');
        INSERT INTO instances (id, deployment_id, replica, pid, pid_start_time, port, state, restarts, exit_code,
                               stdout_offset, stderr_offset, created_at, updated_at) VALUES
          ('i0', 'd', 0, 4242, '123456', 40000, 'running', 1, NULL, 10, 20, 't0', 'u0'),
          ('i1', 'd', 1, NULL, NULL, 40001, 'exited', 0, 137, 0, 0, 't1', 'u1'),
          ('c0', 'd', 0, 4343, '654321', 40002, 'job', 0, NULL, 0, 0, 't2', 'u2');
      `);
      old.close();

      const db = openDb(file);
      const rows = db
        .prepare('SELECT * FROM workloads ORDER BY id')
        .all()
        .map((r) => toWorkload(r as never));
      const tables = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'instances'")
        .all();
      db.prepare("DELETE FROM deployments WHERE id = 'd'").run();
      const afterDelete = db.prepare('SELECT count(*) AS n FROM workloads').get() as { n: number };
      db.close();

      expect(tables).toEqual([]);
      const log = (id: string, s: string) => path.join(dir, 'instances', `${id}.${s}.log`);
      expect(rows).toEqual([
        {
          id: 'c0',
          ownerKind: 'cron-run',
          ownerId: 'd',
          slot: 0,
          handle: {
            driver: 'process',
            id: 'c0',
            pid: 4343,
            startTime: '654321',
            logs: { stdout: log('c0', 'out'), stderr: log('c0', 'err') },
            ports: { http: 40002 },
          },
          state: 'job',
          restarts: 0,
          exitCode: null,
          ports: { http: 40002 },
          stdoutOffset: 0,
          stderrOffset: 0,
          worker: false,
          oomKills: 0,
          createdAt: 't2',
          updatedAt: 'u2',
        },
        {
          id: 'i0',
          ownerKind: 'replica',
          ownerId: 'd',
          slot: 0,
          handle: {
            driver: 'process',
            id: 'i0',
            pid: 4242,
            startTime: '123456',
            logs: { stdout: log('i0', 'out'), stderr: log('i0', 'err') },
            ports: { http: 40000 },
          },
          state: 'running',
          restarts: 1,
          exitCode: null,
          ports: { http: 40000 },
          stdoutOffset: 10,
          stderrOffset: 20,
          worker: false,
          oomKills: 0,
          createdAt: 't0',
          updatedAt: 'u0',
        },
        expect.objectContaining({
          id: 'i1',
          handle: null,
          state: 'exited',
          exitCode: 137,
          ports: { http: 40001 },
        }),
      ]);
      expect(afterDelete.n).toBe(0);
    } finally {
      cleanup();
    }
  });
});
