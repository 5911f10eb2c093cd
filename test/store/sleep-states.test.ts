import { describe, expect, it } from 'vitest';
import { seedPostgres, seedProject, tempStores } from '../helpers/store.js';

const openStore = tempStores();

describe('store.sleepStates', () => {
  it('keeps a data service’s idle period and whether it sleeps, and forgets both with the data service', () => {
    const store = openStore();
    const { ds } = seedPostgres(store);
    expect(store.sleepStates.find('data-service', ds.id)).toBeNull();
    store.sleepStates.setAfter('data-service', ds.id, 600);
    expect(store.sleepStates.isAsleep('data-service', ds.id)).toBe(false);
    store.sleepStates.setAsleep('data-service', ds.id, true);
    // Changing the period keeps it asleep; turning it off too (waking is the sleeper's job).
    store.sleepStates.setAfter('data-service', ds.id, null);
    const s = store.sleepStates.find('data-service', ds.id);
    expect(s).toMatchObject({ kind: 'data-service', id: ds.id, afterSeconds: null });
    expect(Date.parse(s?.asleepSince ?? '')).not.toBeNaN();
    store.sleepStates.setAsleep('data-service', ds.id, false);
    expect(store.sleepStates.list('data-service')).toEqual([
      { kind: 'data-service', id: ds.id, afterSeconds: null, asleepSince: null },
    ]);
    store.sleepStates.setAsleep('data-service', ds.id, true);
    store.dataServices.delete(ds.id);
    expect(store.sleepStates.list('data-service')).toEqual([]);
  });

  it('marks a deployment asleep and forgets it with the deployment', () => {
    const store = openStore();
    const { service, environment } = seedProject(store);
    const d = store.deployments.create({
      serviceId: service.id,
      environmentId: environment.id,
      kind: 'up',
      message: null,
      sourcePath: '/src/a.tar.gz',
      sourceDeploymentId: null,
    });
    store.sleepStates.setAsleep('deployment', d.id, true);
    expect(store.sleepStates.isAsleep('deployment', d.id)).toBe(true);
    expect(store.sleepStates.isAsleep('data-service', d.id)).toBe(false);
    store.deployments.deleteOfService(service.id);
    expect(store.sleepStates.list('deployment')).toEqual([]);
  });
});
