import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretBox } from '../../src/store/secret-box.js';
import { seedProject, tempStores, thrown } from '../helpers/store.js';

const openStore = tempStores();

describe('Store (the aggregate)', () => {
  it('runs one transaction across entities: a throw rolls all of it back', () => {
    const store = openStore();
    const err = thrown(() =>
      store.transaction(() => {
        const { project, environment } = seedProject(store);
        store.variables.updateShared(environment.id, { A: '1' }, []);
        store.tokens.create(project.id, environment.id, 'ci');
        throw new Error('stop');
      }),
    );
    expect(err.message).toBe('stop');
    expect(store.projects.list()).toEqual([]);
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM shared_variables').get()).toEqual({ n: 0 });
    expect(store.transaction(() => store.projects.create('kept').project.name)).toBe('kept');
  });

  it('deletes an environment’s rows, leaving the other environments alone', () => {
    const store = openStore();
    const { project, service, environment: production } = seedProject(store);
    const staging = store.environments.create(project, 'staging');
    for (const env of [production, staging]) {
      const d = store.deployments.create({
        serviceId: service.id,
        environmentId: env.id,
        kind: 'up',
        message: null,
        sourcePath: '',
        sourceDeploymentId: null,
      });
      store.workloads.create({
        ownerKind: 'replica',
        ownerId: d.id,
        slot: 0,
        ports: { http: 4000 },
        state: 'starting',
      });
      store.deployments.setActive(service.id, env.id, d.id);
      store.variables.update(service.id, env.id, { A: '1' }, []);
      store.variables.updateShared(env.id, { B: '2' }, []);
    }
    store.deleteEnvironmentRows(staging.id);
    expect(store.environments.findById(staging.id)).toBeNull();
    expect(store.deployments.ofEnvironment(staging.id)).toEqual([]);
    expect(store.deployments.findActiveId(service.id, staging.id)).toBeNull();
    expect(store.variables.entries(service.id, staging.id)).toEqual([]);
    expect(store.variables.sharedEntries(staging.id)).toEqual([]);
    expect(store.workloads.live(['replica'])).toHaveLength(1);
    expect(store.deployments.ofEnvironment(production.id)).toHaveLength(1);
    expect(store.variables.record(service.id, production.id)).toEqual({ A: '1' });
  });

  it('reads and writes every entity with the box a key rotation put in', () => {
    const store = openStore();
    const { service, environment } = seedProject(store);
    const next = new SecretBox(crypto.randomBytes(32));
    store.replaceSecretBox(next);
    expect(store.secretBox).toBe(next);
    store.variables.update(service.id, environment.id, { A: '1' }, []);
    const raw = store.db.prepare('SELECT value FROM variables').get() as { value: string };
    expect(next.open(raw.value, `variables/${service.id}/${environment.id}/A`)).toBe('1');
    expect(store.variables.record(service.id, environment.id)).toEqual({ A: '1' });
  });
});
