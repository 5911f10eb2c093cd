import { describe, expect, it } from 'vitest';
import { STORE_ENV, storeArgv } from '../../src/storage/store-config.js';

describe('the object store contract', () => {
  it('starts the store with exactly this argv', () => {
    expect(
      storeArgv({
        node: '/usr/bin/node',
        main: '/opt/berth/dist/storage/main.js',
        dataDir: '/var/lib/berth/storage',
        host: '127.0.0.1',
        port: 9000,
        configFile: '/var/lib/berth/storage.json',
      }),
    ).toEqual([
      '/usr/bin/node',
      '/opt/berth/dist/storage/main.js',
      '--data',
      '/var/lib/berth/storage',
      '--host',
      '127.0.0.1',
      '--port',
      '9000',
      '--config',
      '/var/lib/berth/storage.json',
    ]);
  });

  it("gives the store a thread pool larger than libuv's default", () => {
    expect(STORE_ENV).toEqual({ UV_THREADPOOL_SIZE: '16' });
  });
});
