import { describe, expect, it } from 'vitest';
import { SecretBox } from '../../src/store/secret-box.js';
import { rawRow, seedProject, tempStores } from '../helpers/store.js';

const openStore = tempStores();

describe('store.variables', () => {
  it('stores service variables sealed to their row; sealed ones leave the record unless asked', () => {
    const store = openStore();
    const { service, environment: env } = seedProject(store);
    store.variables.update(service.id, env.id, { B: '2', A: '1' }, []);
    store.variables.update(service.id, env.id, { TOKEN: 's3cret' }, [], { sealed: true });
    expect(store.variables.entries(service.id, env.id)).toEqual([
      { name: 'A', value: '1', sealed: false },
      { name: 'B', value: '2', sealed: false },
      { name: 'TOKEN', value: 's3cret', sealed: true },
    ]);
    expect(store.variables.record(service.id, env.id)).toEqual({ A: '1', B: '2' });
    expect(store.variables.record(service.id, env.id, { includeSealed: true })).toEqual({
      A: '1',
      B: '2',
      TOKEN: 's3cret',
    });
    const raw = String(rawRow(store, "SELECT value FROM variables WHERE name = 'TOKEN'").value);
    expect(SecretBox.isSealed(raw)).toBe(true);
    expect(store.secretBox.open(raw, `variables/${service.id}/${env.id}/TOKEN`)).toBe('s3cret');
  });

  it('keeps a sealed variable sealed when set again, and deletes by name', () => {
    const store = openStore();
    const { service, environment: env } = seedProject(store);
    store.variables.update(service.id, env.id, { TOKEN: 'a', X: '1' }, [], { sealed: true });
    store.variables.update(service.id, env.id, { TOKEN: 'b' }, ['X']);
    expect(store.variables.entries(service.id, env.id)).toEqual([
      { name: 'TOKEN', value: 'b', sealed: true },
    ]);
  });

  it('stores shared variables per environment the same way', () => {
    const store = openStore();
    const { project, environment: env } = seedProject(store);
    const staging = store.environments.create(project, 'staging');
    store.variables.updateShared(env.id, { REGION: 'eu', KEY: 'k' }, []);
    store.variables.updateShared(env.id, { PASS: 'p' }, ['KEY'], { sealed: true });
    expect(store.variables.sharedEntries(env.id)).toEqual([
      { name: 'PASS', value: 'p', sealed: true },
      { name: 'REGION', value: 'eu', sealed: false },
    ]);
    expect(store.variables.sharedRecord(env.id)).toEqual({ REGION: 'eu' });
    expect(store.variables.sharedRecord(env.id, { includeSealed: true })).toEqual({
      PASS: 'p',
      REGION: 'eu',
    });
    expect(store.variables.sharedEntries(staging.id)).toEqual([]);
    expect(
      SecretBox.isSealed(
        String(rawRow(store, "SELECT value FROM shared_variables WHERE name = 'REGION'").value),
      ),
    ).toBe(true);
  });

  it('copies service and shared variables to another environment, leaving sealed ones behind', () => {
    const store = openStore();
    const { project, service, environment: env } = seedProject(store);
    const copy = store.environments.create(project, 'copy');
    store.variables.update(service.id, env.id, { A: '1' }, []);
    store.variables.update(service.id, env.id, { S: 'x' }, [], { sealed: true });
    store.variables.updateShared(env.id, { SH: '2' }, []);
    store.variables.updateShared(env.id, { SS: 'y' }, [], { sealed: true });
    store.variables.copy(env.id, copy.id);
    expect(store.variables.record(service.id, copy.id, { includeSealed: true })).toEqual({ A: '1' });
    expect(store.variables.sharedRecord(copy.id, { includeSealed: true })).toEqual({ SH: '2' });
  });
});
