import { describe, expect, it } from 'vitest';
import { NotFoundError, UserError } from '../../src/core/errors.js';
import { toProject } from '../../src/store/projects.js';
import { tempStores, thrown } from '../helpers/store.js';

const openStore = tempStores();

describe('store.projects', () => {
  it('creates a project with its production environment, found by id or name', () => {
    const store = openStore();
    const { project, environments } = store.projects.create('shop');
    expect(project.name).toBe('shop');
    expect(environments.map((e) => [e.name, e.kind, e.projectId])).toEqual([
      ['production', 'persistent', project.id],
    ]);
    expect(store.environments.list(project.id)).toEqual(environments);
    expect(store.projects.find('shop')).toEqual(project);
    expect(store.projects.find(project.id)).toEqual(project);
    expect(store.projects.get('shop')).toEqual(project);
    expect(store.projects.getById(project.id)).toEqual(project);
  });

  it('find returns null and get throws a 404 sentence for a missing project', () => {
    const store = openStore();
    expect(store.projects.find('nope')).toBeNull();
    const err = thrown(() => store.projects.get('nope'));
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toBe('Project "nope" does not exist; create it with `berth init`.');
    expect(thrown(() => store.projects.getById('0000')).message).toBe('Project 0000 does not exist.');
  });

  it('refuses a taken name (409) and an invalid one (400), writing nothing', () => {
    const store = openStore();
    store.projects.create('shop');
    const taken = thrown(() => store.projects.create('shop')) as UserError;
    expect([taken.status, taken.code]).toEqual([409, 'conflict']);
    const invalid = thrown(() => store.projects.create('-bad name')) as UserError;
    expect(invalid).toBeInstanceOf(UserError);
    expect(invalid.status).toBe(400);
    expect(invalid.message).toMatch(/Project name "-bad name" is not valid/);
    expect(store.projects.list().map((p) => p.name)).toEqual(['shop']);
  });

  it('lists projects oldest first', () => {
    const store = openStore();
    const setCreated = store.db.prepare('UPDATE projects SET created_at = ? WHERE name = ?');
    for (const [name, at] of [
      ['b', '2001'],
      ['a', '2002'],
      ['c', '2000'],
    ]) {
      store.projects.create(name);
      setCreated.run(at, name);
    }
    expect(store.projects.list().map((p) => p.name)).toEqual(['c', 'b', 'a']);
  });

  it('maps a row', () => {
    expect(toProject({ id: 'i', name: 'n', created_at: 't', status_url: null })).toEqual({
      id: 'i',
      name: 'n',
      createdAt: 't',
    });
  });
});
