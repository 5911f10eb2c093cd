import { describe, expect, it } from 'vitest';
import { storageLayout } from '../../src/buckets/layout.js';
import { rawRow, seedProject, tempStores } from '../helpers/store.js';

const openStore = tempStores();
const address = { host: '127.0.0.1', port: 9100 };

function seed() {
  const store = openStore();
  const { project, environment } = seedProject(store, 'shop', 'web');
  const files = store.services.create(project, 'files', 'bucket');
  const pages = store.services.create(project, 'pages', 'bucket');
  const bucket = (serviceId: string, s3Name: string, isPublic: boolean) =>
    store.buckets.create({
      serviceId,
      environmentId: environment.id,
      s3Name,
      accessKeyId: `AK${s3Name}`,
      secretAccessKey: `secret-${s3Name}`,
      public: isPublic,
    });
  return {
    store,
    project,
    environment,
    files: bucket(files.id, 'files-aaaaaa', false),
    pages: bucket(pages.id, 'pages-bbbbbb', true),
  };
}

describe('storageLayout', () => {
  it('gives the store every bucket’s keys and only public buckets’ hosts, and the edge a route per bucket', () => {
    const { store, files, pages } = seed();
    store.domains.add('pages.example.com', pages.serviceId, pages.environmentId);
    const { config, routes } = storageLayout(store, 'Apps.Example.com', address);
    expect(config).toEqual({
      region: 'auto',
      storageHosts: ['storage.apps.example.com'],
      buckets: [
        {
          name: 'files-aaaaaa',
          accessKeyId: 'AKfiles-aaaaaa',
          secretAccessKey: 'secret-files-aaaaaa',
          public: false,
        },
        {
          name: 'pages-bbbbbb',
          accessKeyId: 'AKpages-bbbbbb',
          secretAccessKey: 'secret-pages-bbbbbb',
          public: true,
        },
      ],
      publicHosts: {
        'pages-bbbbbb.public.apps.example.com': 'pages-bbbbbb',
        'pages.example.com': 'pages-bbbbbb',
      },
      deletedBuckets: [],
    });
    expect(routes.map((r) => [r.service, r.hostnames, r.deploymentId])).toEqual([
      ['(object store)', ['storage.apps.example.com'], 'object-store'],
      ['files', ['files-aaaaaa.storage.apps.example.com'], `bucket:${files.id}:private`],
      [
        'pages',
        [
          'pages-bbbbbb.storage.apps.example.com',
          'pages-bbbbbb.public.apps.example.com',
          'pages.example.com',
        ],
        `bucket:${pages.id}:public`,
      ],
    ]);
    for (const r of routes) expect(r.targets).toEqual([{ id: 'object-store', ...address }]);
    // The secret is sealed at rest like a variable.
    expect(
      String(rawRow(store, 'SELECT secret_access_key FROM buckets WHERE id = ?', pages.id).secret_access_key),
    ).not.toContain('secret-');
  });

  it('lists a deleted bucket for the store only once its row is gone (a refused deletion keeps its data)', () => {
    const { store, files } = seed();
    const doomed = new Set(['files-aaaaaa', 'gone-cccccc']);
    expect(storageLayout(store, 'x.test', address, doomed).config.deletedBuckets).toEqual(['gone-cccccc']);
    store.buckets.delete(files.id);
    expect(storageLayout(store, 'x.test', address, doomed).config.deletedBuckets).toEqual([
      'files-aaaaaa',
      'gone-cccccc',
    ]);
  });

  it('no buckets: no routes; a store that never started: routes without targets', () => {
    const store = openStore();
    seedProject(store);
    expect(storageLayout(store, 'x.test', address).routes).toEqual([]);
    const { store: other } = seed();
    expect(storageLayout(other, 'x.test', null).routes.every((r) => r.targets.length === 0)).toBe(true);
  });
});
