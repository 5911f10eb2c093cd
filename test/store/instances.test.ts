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
    store.instances.update(inst.id, { pid: 123, pidStartTime: '999', state: 'running', stdoutOffset: 10 });
    store.instances.update(inst.id, { restarts: 2, exitCode: 1, ...({ deploymentId: 'x' } as object) });
    store.instances.update(inst.id, {});
    expect(store.instances.get(inst.id)).toMatchObject({
      deploymentId: inst.deploymentId,
      pid: 123,
      pidStartTime: '999',
      port: 4100,
      state: 'running',
      restarts: 2,
      exitCode: 1,
      stdoutOffset: 10,
      stderrOffset: 0,
    });
  });

  it('maps a row', () => {
    const row = {
      id: 'i',
      deployment_id: 'd',
      replica: 1,
      pid: null,
      pid_start_time: null,
      port: 5000,
      state: 'running',
      restarts: 0,
      exit_code: null,
      created_at: 'c',
      updated_at: 'u',
      stdout_offset: 7,
      stderr_offset: 8,
    };
    expect(toInstance(row)).toEqual({
      id: 'i',
      deploymentId: 'd',
      replica: 1,
      pid: null,
      pidStartTime: null,
      port: 5000,
      state: 'running',
      restarts: 0,
      exitCode: null,
      createdAt: 'c',
      updatedAt: 'u',
      stdoutOffset: 7,
      stderrOffset: 8,
    });
  });
});
