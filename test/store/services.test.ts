import { describe, expect, it } from 'vitest';
import { NotFoundError, type UserError } from '../../src/core/errors.js';
import { toService } from '../../src/store/services.js';
import { seedProject, tempStores, thrown } from '../helpers/store.js';

const openStore = tempStores();

describe('store.services', () => {
  it('creates services, found by id or name within the project', () => {
    const store = openStore();
    const { project, service: web } = seedProject(store);
    const worker = store.services.create(project, 'worker');
    expect(store.services.list(project.id).sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      web,
      worker,
    ]);
    expect(store.services.find(project, 'worker')).toEqual(worker);
    expect(store.services.get(project, worker.id)).toEqual(worker);
    expect(store.services.getById(web.id)).toEqual(web);
    const other = seedProject(store, 'other').project;
    expect(store.services.find(other, 'worker')).toBeNull();
  });

  it('get throws a 404 sentence naming the fix', () => {
    const store = openStore();
    const { project } = seedProject(store);
    const err = thrown(() => store.services.get(project, 'api'));
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toBe(
      'Service "api" does not exist in project "shop"; create it with `berth add --service api` or deploy with `berth up`.',
    );
    expect(thrown(() => store.services.getById('missing')).message).toBe('Service missing does not exist.');
  });

  it('refuses a taken name and a generated host name another service has', () => {
    const store = openStore();
    const { project } = seedProject(store, 'p-q', 'svc');
    const taken = thrown(() => store.services.create(project, 'svc')) as UserError;
    expect([taken.status, taken.code]).toEqual([409, 'conflict']);
    // svc-p-q: service "svc-p" of project "q" against service "svc" of project "p-q".
    const q = store.projects.create('q').project;
    const clash = thrown(() => store.services.create(q, 'svc-p')) as UserError;
    expect([clash.status, clash.code]).toEqual([409, 'hostname_taken']);
    expect(store.services.list(q.id)).toEqual([]);
  });

  it('updates source settings: undefined keeps a value, null clears it', () => {
    const store = openStore();
    const { service } = seedProject(store);
    const set = store.services.updateSource(service.id, {
      rootDirectory: 'apps/web',
      configPath: 'apps/web/railway.toml',
      repoUrl: 'https://example.com/r.git',
      repoBranch: 'main',
      waitForChecks: true,
    });
    expect(set).toMatchObject({ rootDirectory: 'apps/web', repoBranch: 'main', waitForChecks: true });
    const cleared = store.services.updateSource(service.id, { rootDirectory: null, waitForChecks: false });
    expect(cleared).toMatchObject({
      rootDirectory: null,
      configPath: 'apps/web/railway.toml',
      repoUrl: 'https://example.com/r.git',
      waitForChecks: false,
    });
    expect(store.services.getById(service.id)).toEqual(cleared);
  });

  it('maps a row', () => {
    expect(toService({ id: 's', project_id: 'p', name: 'web', created_at: 't', wait_for_checks: 1 })).toEqual(
      {
        id: 's',
        projectId: 'p',
        name: 'web',
        createdAt: 't',
        rootDirectory: null,
        configPath: null,
        repoUrl: null,
        repoBranch: null,
        waitForChecks: true,
        kind: 'app',
      },
    );
  });

  it('keeps the kind a service was created with (a row from before kinds is an app)', () => {
    expect(toService({ id: 's', project_id: 'p', name: 'db', created_at: 't', kind: 'postgres' }).kind).toBe(
      'postgres',
    );
    expect(toService({ id: 's', project_id: 'p', name: 'db', created_at: 't', kind: 'nonsense' }).kind).toBe(
      'app',
    );
  });
});
