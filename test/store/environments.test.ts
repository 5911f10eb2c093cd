import { describe, expect, it } from 'vitest';
import { NotFoundError, type UserError } from '../../src/core/errors.js';
import { toEnvironment } from '../../src/store/environments.js';
import { seedProject, tempStores, thrown } from '../helpers/store.js';

const openStore = tempStores();

describe('store.environments', () => {
  it('creates persistent environments and branch previews, found by id or name within the project', () => {
    const store = openStore();
    const { project, environment: production } = seedProject(store);
    const staging = store.environments.create(project, 'staging');
    expect([staging.kind, staging.branch, staging.baseEnvironmentId]).toEqual(['persistent', null, null]);
    const preview = store.environments.create(project, 'br-feat', {
      kind: 'preview',
      branch: 'feat',
      base: staging,
    });
    expect([preview.kind, preview.branch, preview.baseEnvironmentId]).toEqual([
      'preview',
      'feat',
      staging.id,
    ]);
    // Oldest first; rows made in the same millisecond get distinct times here.
    store.db.prepare("UPDATE environments SET created_at = '2000-01-01' WHERE id = ?").run(preview.id);
    expect(store.environments.list(project.id).map((e) => e.name)).toEqual([
      'br-feat',
      'production',
      'staging',
    ]);
    store.db
      .prepare('UPDATE environments SET created_at = ? WHERE id = ?')
      .run(preview.createdAt, preview.id);
    expect(store.environments.find(project, 'staging')).toEqual(staging);
    expect(store.environments.get(project, staging.id)).toEqual(staging);
    expect(store.environments.findById(production.id)).toEqual(production);
    expect(store.environments.getById(preview.id)).toEqual(preview);
    expect(store.environments.findPreview(project, 'feat')).toEqual(preview);
    expect(store.environments.findPreview(project, 'main')).toBeNull();
  });

  it('does not find another project’s environment; get throws a 404 sentence', () => {
    const store = openStore();
    const a = seedProject(store, 'a');
    const b = seedProject(store, 'b');
    expect(store.environments.find(a.project, b.environment.id)).toBeNull();
    const err = thrown(() => store.environments.get(a.project, 'staging'));
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toBe('Environment "staging" does not exist in project "a".');
    expect(store.environments.findById('missing')).toBeNull();
    expect(thrown(() => store.environments.getById('missing'))).toBeInstanceOf(NotFoundError);
  });

  it('refuses a taken name and a name whose generated host name another service has', () => {
    const store = openStore();
    const { project } = seedProject(store, 'p', 'svc');
    const taken = thrown(() => store.environments.create(project, 'production')) as UserError;
    expect([taken.status, taken.code]).toEqual([409, 'conflict']);
    // svc-p-q-x: service "svc" of project "p" in "q-x" against service "svc" of project "p-q" in "x".
    const other = seedProject(store, 'p-q', 'svc').project;
    store.environments.create(other, 'x');
    const clash = thrown(() => store.environments.create(project, 'q-x')) as UserError;
    expect([clash.status, clash.code]).toEqual([409, 'hostname_taken']);
    expect(clash.message).toMatch(/svc-p-q-x .* pick another name for the environment\.$/);
    expect(store.environments.find(project, 'q-x')).toBeNull();
  });

  it('marks previews made for a fork', () => {
    const store = openStore();
    const { project, environment } = seedProject(store);
    const preview = store.environments.create(project, 'pr-1', { kind: 'preview', branch: 'pr-1' });
    store.environments.markForkPreview(preview.id);
    expect(store.environments.isForkPreview(preview.id)).toBe(true);
    expect(store.environments.isForkPreview(environment.id)).toBe(false);
  });

  it('maps a row, defaulting columns older databases lack', () => {
    expect(toEnvironment({ id: 'e', project_id: 'p', name: 'production', created_at: 't' })).toEqual({
      id: 'e',
      projectId: 'p',
      name: 'production',
      createdAt: 't',
      kind: 'persistent',
      branch: null,
      baseEnvironmentId: null,
    });
  });
});
