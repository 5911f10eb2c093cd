import { describe, expect, it } from 'vitest';
import { SecretBox } from '../../src/store/secret-box.js';
import { rawRow, seedProject, tempStores } from '../helpers/store.js';

const openStore = tempStores();

describe('store.webhookSettings', () => {
  it('keeps a project secret sealed; null deletes it', () => {
    const store = openStore();
    const { project } = seedProject(store);
    expect(store.webhookSettings.findSecret(project.id, 'webhook')).toBeNull();
    store.webhookSettings.setSecret(project.id, 'webhook', 'whsec');
    store.webhookSettings.setSecret(project.id, 'webhook', 'whsec2');
    expect(store.webhookSettings.findSecret(project.id, 'webhook')).toBe('whsec2');
    const raw = String(
      rawRow(store, 'SELECT value FROM project_secrets WHERE project_id = ?', project.id).value,
    );
    expect(SecretBox.isSealed(raw)).toBe(true);
    store.webhookSettings.setSecret(project.id, 'webhook', null);
    expect(store.webhookSettings.findSecret(project.id, 'webhook')).toBeNull();
  });

  it('keeps the status URL and the fork policy (skip unless set)', () => {
    const store = openStore();
    const { project } = seedProject(store);
    expect(store.webhookSettings.findStatusUrl(project.id)).toBeNull();
    store.webhookSettings.setStatusUrl(project.id, 'https://ci.example.com/status');
    expect(store.webhookSettings.findStatusUrl(project.id)).toBe('https://ci.example.com/status');
    store.webhookSettings.setStatusUrl(project.id, null);
    expect(store.webhookSettings.findStatusUrl(project.id)).toBeNull();
    expect(store.webhookSettings.forkPrs(project.id)).toBe('skip');
    store.webhookSettings.setForkPrs(project.id, 'build');
    expect(store.webhookSettings.forkPrs(project.id)).toBe('build');
  });
});
