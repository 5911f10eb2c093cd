import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/core/errors.js';
import { assertName } from '../../src/store/generated-names.js';
import { seedProject, tempStores, thrown } from '../helpers/store.js';

const openStore = tempStores();

describe('store.generatedNames', () => {
  it('lists every service in every environment with its label and the later creation time', () => {
    const store = openStore();
    const { project, service } = seedProject(store, 'Shop', 'Web');
    const staging = store.environments.create(project, 'staging');
    const names = store.generatedNames.list().sort((a, b) => a.label.localeCompare(b.label));
    expect(names.map((n) => [n.label, n.project, n.service, n.environment])).toEqual([
      ['web-shop', 'Shop', 'Web', 'production'],
      ['web-shop-staging', 'Shop', 'Web', 'staging'],
    ]);
    expect(names[0].since).toBe(service.createdAt);
    expect(names[1].since).toBe(staging.createdAt);
    expect(names[1]).toMatchObject({ serviceId: service.id, environmentId: staging.id });
  });

  it('assertFree names the service that holds a label', () => {
    const store = openStore();
    seedProject(store, 'p', 'svc');
    expect(() =>
      store.generatedNames.assertFree([{ project: 'x', service: 'svc', environment: 'production' }], 'fix'),
    ).not.toThrow();
    const err = thrown(() =>
      store.generatedNames.assertFree(
        [{ project: 'p', service: 'svc', environment: 'production' }],
        'do this',
      ),
    );
    expect(err.message).toBe(
      'The generated host name svc-p of service "svc" of project "p" (production) is already the host name of service "svc" of project "p" (production); do this.',
    );
  });

  it('assertName accepts DNS-friendly names only', () => {
    for (const ok of ['a', 'web_1', 'A-b', 'x'.repeat(63)])
      expect(() => assertName('Service', ok)).not.toThrow();
    for (const bad of ['', '-a', 'a b', 'a.b', 'x'.repeat(64)]) {
      expect(thrown(() => assertName('Service', bad))).toBeInstanceOf(UserError);
    }
  });
});
