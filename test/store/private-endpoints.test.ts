import { describe, expect, it } from 'vitest';
import { seedProject, tempStores } from '../helpers/store.js';

const openStore = tempStores();

describe('store.privateEndpoints', () => {
  it('hands out increasing numbers once per service and environment, kept for good', () => {
    const store = openStore();
    const { project, service: web, environment: env } = seedProject(store);
    const api = store.services.create(project, 'api');
    const staging = store.environments.create(project, 'staging');
    expect(store.privateEndpoints.seq(web.id, env.id)).toBe(1);
    expect(store.privateEndpoints.seq(api.id, env.id)).toBe(2);
    expect(store.privateEndpoints.seq(web.id, staging.id)).toBe(3);
    expect(store.privateEndpoints.seq(web.id, env.id)).toBe(1);
  });
});
