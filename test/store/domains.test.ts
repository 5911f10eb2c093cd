import { describe, expect, it } from 'vitest';
import type { UserError } from '../../src/core/errors.js';
import { toDomain } from '../../src/store/domains.js';
import { seedProject, tempStores, thrown } from '../helpers/store.js';

const openStore = tempStores();

describe('store.domains', () => {
  it('adds, finds, lists and deletes custom domains', () => {
    const store = openStore();
    const { service, environment } = seedProject(store);
    const b = store.domains.add('b.example.com', service.id, environment.id);
    const a = store.domains.add('a.example.com', service.id, environment.id, false);
    expect([a.httpsRedirect, b.httpsRedirect]).toEqual([false, true]);
    expect(store.domains.find('a.example.com')).toEqual(a);
    expect(store.domains.find('c.example.com')).toBeNull();
    expect(store.domains.list(service.id, environment.id)).toEqual([a, b]);
    expect(store.domains.list()).toEqual([a, b]);
    expect(store.domains.delete('a.example.com', 'other-service', environment.id)).toBe(false);
    expect(store.domains.delete('a.example.com', service.id, environment.id)).toBe(true);
    expect(store.domains.list()).toEqual([b]);
  });

  it('refuses a taken name (409), naming its owner', () => {
    const store = openStore();
    const { service, environment } = seedProject(store, 'shop', 'web');
    const other = seedProject(store, 'blog', 'site');
    store.domains.add('x.example.com', service.id, environment.id);
    const same = thrown(() => store.domains.add('x.example.com', service.id, environment.id)) as UserError;
    expect([same.status, same.code, same.message]).toEqual([
      409,
      'domain_taken',
      'x.example.com is already a domain of this service.',
    ]);
    const taken = thrown(() => store.domains.add('x.example.com', other.service.id, other.environment.id));
    expect(taken.message).toBe(
      'x.example.com is already the domain of service web (production) in project shop; delete it there first.',
    );
  });

  it('maps a row', () => {
    const row = { hostname: 'h', service_id: 's', environment_id: 'e', https_redirect: 0, created_at: 't' };
    expect(toDomain(row)).toEqual({
      hostname: 'h',
      serviceId: 's',
      environmentId: 'e',
      httpsRedirect: false,
      createdAt: 't',
    });
  });
});
