import { describe, expect, it } from 'vitest';
import { publicNpmrc } from '../../src/build/npm-config.js';
import { yarnSettingsFromNpmrc } from '../../src/build/yarn-config.js';

describe("the server's .npmrc as Yarn Berry settings", () => {
  it('maps registry, scoped registries, proxies and TLS; credentials never get this far', () => {
    const npmrc = publicNpmrc(
      [
        'registry=http://npm.mirror.internal:4873/',
        '@acme:registry = "https://npm.acme.example/"',
        '//npm.acme.example/:_authToken=secret',
        'https-proxy=http://proxy.internal:3128',
        'proxy=http://proxy.internal:3128',
        'cafile=/etc/ssl/certs/corp.pem',
        'strict-ssl=false',
        'maxsockets=7',
        'fetch-timeout=60000',
        'fetch-retries=4',
        'nodedir=/usr',
        'fund=false',
      ].join('\n'),
    ).text;
    expect(yarnSettingsFromNpmrc(npmrc)).toEqual({
      rc: {
        npmRegistryServer: 'http://npm.mirror.internal:4873/',
        npmScopes: { acme: { npmRegistryServer: 'https://npm.acme.example/' } },
        httpsProxy: 'http://proxy.internal:3128',
        httpProxy: 'http://proxy.internal:3128',
        caFilePath: '/etc/ssl/certs/corp.pem',
        enableStrictSsl: false,
        networkConcurrency: 7,
        httpTimeout: 60000,
        httpRetry: 4,
        // Yarn refuses plain http unless the host is listed; the server's owner chose this registry.
        unsafeHttpWhitelist: ['npm.mirror.internal'],
      },
      env: { npm_config_nodedir: '/usr' },
    });
  });

  it('an .npmrc with nothing Yarn has a setting for gives nothing', () => {
    expect(yarnSettingsFromNpmrc('fund=false\naudit=false\n# registry=x\n')).toEqual({ rc: {}, env: {} });
  });
});
