import { describe, expect, it } from 'vitest';
import { NotFoundError } from '../../src/core/errors.js';
import { toInstance } from '../../src/store/instances.js';
import type { Store } from '../../src/store/store.js';
import { seedProject, tempStores, thrown } from '../helpers/store.js';

const openStore = tempStores();

function deployment(store: Store) {
  const { service, environment } = seedProject(store);
  return store.deployments.create({
    serviceId: service.id,
    environmentId: environment.id,
    kind: 'up',
    message: null,
    sourcePath: '',
    sourceDeploymentId: null,
  });
}

describe('store.instances', () => {
  it('creates a starting replica; find is null and get a 404 for a missing one', () => {
    const store = openStore();
    const d = deployment(store);
    const inst = store.instances.create(d.id, 0, 4100);
    expect(inst).toMatchObject({
      deploymentId: d.id,
      replica: 0,
      port: 4100,
      state: 'starting',
      pid: null,
      pidStartTime: null,
      restarts: 0,
      exitCode: null,
      stdoutOffset: 0,
      stderrOffset: 0,
    });
    expect(store.instances.get(inst.id)).toEqual(inst);
    expect(store.instances.find('missing')).toBeNull();
    expect(thrown(() => store.instances.get('missing'))).toBeInstanceOf(NotFoundError);
  });

  it('lists a deployment’s replicas in order and the ones that may be live', () => {
    const store = openStore();
    const d = deployment(store);
    const one = store.instances.create(d.id, 1, 4101);
    const zero = store.instances.create(d.id, 0, 4100);
    const two = store.instances.create(d.id, 2, 4102);
    expect(store.instances.of(d.id).map((i) => i.id)).toEqual([zero.id, one.id, two.id]);
    store.instances.update(one.id, { state: 'exited' });
    store.instances.update(two.id, { state: 'crashed' });
    expect(store.instances.live().map((i) => i.id)).toEqual([zero.id]);
  });

  it('updates the given columns only, ignoring unknown keys', () => {
    const store = openStore();
    const inst = store.instances.create(deployment(store).id, 0, 4100);
    const handle = { driver: 'process', id: inst.id, pid: 123, startTime: '999', logs: {}, ports: {} };
    store.instances.update(inst.id, { handle, state: 'running', stdoutOffset: 10 });
    store.instances.update(inst.id, { restarts: 2, exitCode: 1, ...({ deploymentId: 'x' } as object) });
    store.instances.update(inst.id, {});
    expect(store.instances.get(inst.id)).toMatchObject({
      deploymentId: inst.deploymentId,
      pid: 123,
      pidStartTime: '999',
      handle,
      port: 4100,
      state: 'running',
      restarts: 2,
      exitCode: 1,
      stdoutOffset: 10,
      stderrOffset: 0,
    });
  });

  it('maps a workload: pid and start time from a process handle, the port named http', () => {
    const w = {
      id: 'i',
      ownerKind: 'replica' as const,
      ownerId: 'd',
      slot: 1,
      handle: null,
      state: 'running' as const,
      restarts: 0,
      exitCode: null,
      ports: { http: 5000 },
      createdAt: 'c',
      updatedAt: 'u',
      stdoutOffset: 7,
      stderrOffset: 8,
    };
    expect(toInstance(w)).toEqual({
      id: 'i',
      deploymentId: 'd',
      replica: 1,
      pid: null,
      pidStartTime: null,
      handle: null,
      port: 5000,
      state: 'running',
      restarts: 0,
      exitCode: null,
      createdAt: 'c',
      updatedAt: 'u',
      stdoutOffset: 7,
      stderrOffset: 8,
    });
    const container = { driver: 'container', id: 'i', name: 'berth-i' };
    expect(toInstance({ ...w, handle: container })).toMatchObject({
      pid: null,
      pidStartTime: null,
      handle: container,
    });
  });

  it('changes the port into the ports named http', () => {
    const store = openStore();
    const inst = store.instances.create(deployment(store).id, 0, 4100);
    store.instances.update(inst.id, { port: 4200 });
    expect(store.instances.get(inst.id).port).toBe(4200);
    expect(store.workloads.get(inst.id).ports).toEqual({ http: 4200 });
  });
});
