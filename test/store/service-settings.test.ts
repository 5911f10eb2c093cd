import { describe, expect, it } from 'vitest';
import { seedProject, tempStores } from '../helpers/store.js';

const openStore = tempStores();

describe('store.serviceSettings', () => {
  it('is empty until set, then replaced whole per service and environment; goes with its environment', () => {
    const store = openStore();
    const { project, service, environment } = seedProject(store);
    const staging = store.environments.create(project, 'staging');
    expect(store.serviceSettings.of(service.id, environment.id)).toEqual({});
    store.serviceSettings.set(service.id, environment.id, { startCommand: 'node a.js', numReplicas: 2 });
    store.serviceSettings.set(service.id, environment.id, {
      startCommand: 'node b.js',
      watchPatterns: ['src/**'],
    });
    expect(store.serviceSettings.of(service.id, environment.id)).toEqual({
      startCommand: 'node b.js',
      watchPatterns: ['src/**'],
    });
    store.serviceSettings.set(service.id, staging.id, { cronSchedule: '0 * * * *' });
    expect(store.serviceSettings.of(service.id, staging.id)).toEqual({ cronSchedule: '0 * * * *' });
    const qa = store.environments.create(project, 'qa');
    store.serviceSettings.copy(environment.id, qa.id);
    expect(store.serviceSettings.of(service.id, qa.id)).toEqual(
      store.serviceSettings.of(service.id, environment.id),
    );
    store.db.prepare('DELETE FROM environments WHERE id = ?').run(staging.id);
    expect(store.serviceSettings.of(service.id, staging.id)).toEqual({});
  });
});
