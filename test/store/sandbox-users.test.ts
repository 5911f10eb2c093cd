import { describe, expect, it } from 'vitest';
import { seedProject, tempStores } from '../helpers/store.js';

const openStore = tempStores();

describe('store.sandboxUsers', () => {
  it('hands out a number once per service and environment and never again after a delete', () => {
    const store = openStore();
    const { project, service: web, environment: env } = seedProject(store);
    const api = store.services.create(project, 'api');
    const first = store.sandboxUsers.seq(web.id, env.id);
    const second = store.sandboxUsers.seq(api.id, env.id);
    expect(second).toBeGreaterThan(first);
    expect(store.sandboxUsers.seq(web.id, env.id)).toBe(first);
    store.db.prepare('DELETE FROM services WHERE id = ?').run(api.id);
    const worker = store.services.create(project, 'worker');
    expect(store.sandboxUsers.seq(worker.id, env.id)).toBeGreaterThan(second);
  });
});
