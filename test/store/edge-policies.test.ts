import { describe, expect, it } from 'vitest';
import { seedProject, tempStores } from '../helpers/store.js';

const openStore = tempStores();

describe('store.edgePolicies', () => {
  it('is empty until set, then replaced whole per service and environment', () => {
    const store = openStore();
    const { project, service, environment } = seedProject(store);
    const staging = store.environments.create(project, 'staging');
    expect(store.edgePolicies.of(service.id, environment.id)).toEqual({});
    store.edgePolicies.set(service.id, environment.id, { maxBodySize: 1024, rateLimit: 10 });
    store.edgePolicies.set(service.id, environment.id, { maxBodySize: 2048, denyPaths: ['/admin'] });
    expect(store.edgePolicies.of(service.id, environment.id)).toEqual({
      maxBodySize: 2048,
      denyPaths: ['/admin'],
    });
    expect(store.edgePolicies.of(service.id, staging.id)).toEqual({});
  });
});
