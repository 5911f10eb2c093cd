import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PROJECT_TOKEN } from '../../src/core/project-token.js';
import { rawRow, seedProject, tempStores } from '../helpers/store.js';

const openStore = tempStores();

describe('store.tokens', () => {
  it('returns the secret once and keeps only its hash', () => {
    const store = openStore();
    const { project, environment } = seedProject(store);
    const { token, secret } = store.tokens.create(project.id, environment.id, 'ci');
    expect(secret).toMatch(PROJECT_TOKEN);
    expect(token).toMatchObject({
      projectId: project.id,
      environmentId: environment.id,
      name: 'ci',
      lastUsedAt: null,
    });
    const row = rawRow(store, 'SELECT * FROM project_tokens WHERE id = ?', token.id);
    expect(Object.values(row)).not.toContain(secret);
    expect(row.secret_sha256).toBe(createHash('sha256').update(secret).digest('hex'));
    expect(store.tokens.list(project.id)).toEqual([token]);
  });

  it('finds a token by its secret and notes the use; null for unknown or malformed secrets', () => {
    const store = openStore();
    const { project, environment } = seedProject(store);
    const { token, secret } = store.tokens.create(project.id, environment.id, 'ci');
    const found = store.tokens.findBySecret(secret);
    expect(found?.id).toBe(token.id);
    expect(store.tokens.list(project.id)[0].lastUsedAt).not.toBeNull();
    // Another last character (a secret that already ends in 0 would be found again: a flaky test).
    const other = `${secret.slice(0, -1)}${secret.endsWith('0') ? '1' : '0'}`;
    expect(store.tokens.findBySecret(other)).toBeNull();
    expect(store.tokens.findBySecret('not a token')).toBeNull();
  });

  it('deletes a token by id or name within its project', () => {
    const store = openStore();
    const { project, environment } = seedProject(store);
    const other = seedProject(store, 'other').project;
    const a = store.tokens.create(project.id, environment.id, 'a').token;
    store.tokens.create(project.id, environment.id, 'b');
    expect(store.tokens.delete(other.id, 'a')).toBe(false);
    expect(store.tokens.delete(project.id, a.id)).toBe(true);
    expect(store.tokens.delete(project.id, 'b')).toBe(true);
    expect(store.tokens.delete(project.id, 'b')).toBe(false);
    expect(store.tokens.list(project.id)).toEqual([]);
  });
});
