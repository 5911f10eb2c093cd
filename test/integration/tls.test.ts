import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findHaproxy } from '../../src/edge/haproxy/driver.js';
import { removeHostsBlock, writeHostsBlock } from '../../src/lib/hosts-file.js';
import { freePort } from '../../src/lib/net.js';
import { waitFor } from '../../src/lib/wait.js';
import { LocalCa } from '../../src/tls/local-ca.js';
import { BerthHarness } from '../helpers/berth.js';
import { httpsGet } from '../helpers/https.js';
import { needs } from '../helpers/optional-tools.js';
import { killGroup, makeTmpDir } from '../helpers/tmp.js';

const EDGE = findHaproxy() === null ? 'builtin' : 'haproxy';
/** Pebble, Let's Encrypt's test CA, is optional: without it only the ACME test skips. */
const acme = (() => {
  const n = needs(
    'pebble',
    'gets a certificate for a custom domain from the ACME CA over HTTP-01, then renews it',
  );
  return { installed: !n.skip, title: n.title };
})();

/** Let's Encrypt's test CA, on free ports, validating HTTP-01 against the Berth edge's HTTP port. */
async function startPebble(dir: string, httpPort: number) {
  const ca = await LocalCa.open(path.join(dir, 'pebble-ca'), 'Pebble test TLS');
  const leaf = await ca.issue(['127.0.0.1']);
  fs.writeFileSync(path.join(dir, 'pebble-cert.pem'), leaf.certPem);
  fs.writeFileSync(path.join(dir, 'pebble-key.pem'), leaf.keyPem);
  const port = await freePort();
  const mgmt = await freePort();
  fs.writeFileSync(
    path.join(dir, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${port}`,
        managementListenAddress: `127.0.0.1:${mgmt}`,
        certificate: path.join(dir, 'pebble-cert.pem'),
        privateKey: path.join(dir, 'pebble-key.pem'),
        httpPort,
        tlsPort: await freePort(),
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  const log = fs.openSync(path.join(dir, 'pebble.log'), 'a');
  const child = spawn('pebble', ['-config', path.join(dir, 'pebble.json')], {
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' },
  });
  fs.closeSync(log);
  await waitFor(
    'pebble to answer',
    async () => {
      try {
        return (await httpsGet(port, '127.0.0.1', ca.certPem, '/dir')).status === 200;
      } catch {
        return false;
      }
    },
    { timeoutMs: 15_000 },
  );
  return { child, caPem: ca.certPem, caFile: ca.certFile, directory: `https://127.0.0.1:${port}/dir`, mgmt };
}

describe('HTTPS on the edge: local CA, uploaded certificates, ACME with renewal', () => {
  const berth = new BerthHarness();
  const tmp = makeTmpDir('berth-tls-');
  const web = ['-p', 'tls', '-s', 'web'];
  const acmeDomain = `acme-${process.pid}.berth-test.example`;
  let pebble: Awaited<ReturnType<typeof startPebble>>;
  let pebbleRoot = '';

  beforeAll(async () => {
    // Named explicitly (auto picks it too): these run on HAProxy where it is installed (the conformance suite
    // covers both drivers), so its HTTPS, ACME and private-endpoint paths meet real flows too.
    berth.serverArgs = ['--edge', EDGE];
    await berth.start();
    if (acme.installed) {
      pebble = await startPebble(tmp.dir, berth.httpPort);
      // Pebble (Go) resolves the domain through /etc/hosts, like a real CA resolves DNS.
      await writeHostsBlock('/etc/hosts', tmp.dir, '127.250', [{ ip: '127.0.0.1', names: [acmeDomain] }]);
      await berth.stopDaemon();
      berth.serverArgs = [
        '--edge',
        EDGE,
        '--acme-email',
        'ops@berth-test.example',
        '--acme-directory',
        pebble.directory,
      ];
      await berth.startDaemon({ NODE_EXTRA_CA_CERTS: pebble.caFile });
    }
    expect((await berth.cli(['init', '--name', 'tls'])).code).toBe(0);
    const up = await berth.cli(['up', berth.app('lifecycle', 'web'), ...web]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    if (acme.installed) {
      const roots = await httpsGet(pebble.mgmt, '127.0.0.1', pebble.caPem, '/roots/0');
      pebbleRoot = roots.body;
    }
  });

  afterAll(async () => {
    await berth.stop();
    if (pebble) killGroup(pebble.child.pid as number);
    await removeHostsBlock('/etc/hosts', tmp.dir);
    tmp.cleanup();
  });

  /** `berth domain cert DOMAIN --cert F --key F` with files from the test's temp dir. */
  const uploadCert = (domain: string, cert: string, key: string) =>
    berth.cli([
      'domain',
      'cert',
      domain,
      '--cert',
      path.join(tmp.dir, cert),
      '--key',
      path.join(tmp.dir, key),
      ...web,
    ]);

  const localCa = () => fs.readFileSync(path.join(berth.dataDir, 'ca', 'ca.pem'), 'utf8');

  it('serves the generated domain over HTTPS with a certificate from the local CA', async () => {
    // --edge auto: HAProxy when installed (the conformance suite covers the built-in edge as well).
    expect(berth.serverLog()).toContain(`(${EDGE} edge)`);
    const res = await httpsGet(berth.httpsPort, 'web-tls.localhost', localCa(), '/headers');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)['x-forwarded-proto']).toBe('https');
    const plain = await berth.get('web-tls.localhost', '/headers');
    expect(JSON.parse(plain.body)['x-forwarded-proto']).toBe('http');
    const list = JSON.parse((await berth.cli(['domain', 'list', '--json', ...web])).stdout);
    expect(list.generated.httpsUrl).toBe(`https://web-tls.localhost:${berth.httpsPort}`);
  });

  it('uses an uploaded certificate for a custom domain and refuses one for another name', async () => {
    const own = await LocalCa.open(path.join(tmp.dir, 'own-ca'), 'Own CA');
    const good = await own.issue(['files.berth-test.example']);
    const wrong = await own.issue(['other.berth-test.example']);
    fs.writeFileSync(path.join(tmp.dir, 'good.pem'), good.certPem);
    fs.writeFileSync(path.join(tmp.dir, 'good.key'), good.keyPem);
    fs.writeFileSync(path.join(tmp.dir, 'wrong.pem'), wrong.certPem);
    fs.writeFileSync(path.join(tmp.dir, 'wrong.key'), wrong.keyPem);
    // No ACME for this one: the server only tries ACME for names without an uploaded certificate,
    // and a failed attempt here would not disturb the test.
    expect((await berth.cli(['domain', 'files.berth-test.example', ...web])).code).toBe(0);

    const bad = await uploadCert('files.berth-test.example', 'wrong.pem', 'wrong.key');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('not files.berth-test.example');
    const mismatched = await uploadCert('files.berth-test.example', 'good.pem', 'wrong.key');
    expect(mismatched.code).toBe(1);
    expect(mismatched.stderr).toContain('The private key does not belong to the certificate');

    const ok = await uploadCert('files.berth-test.example', 'good.pem', 'good.key');
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const res = await httpsGet(berth.httpsPort, 'files.berth-test.example', own.certPem);
    expect(res).toMatchObject({ status: 200, body: 'v1' });

    // With a certificate in place, plain HTTP on the domain redirects to HTTPS (the generated one does not).
    const plain = await berth.get('files.berth-test.example', '/some/path?q=1');
    expect(plain.status).toBe(308);
    expect(plain.headers.location).toBe(`https://files.berth-test.example:${berth.httpsPort}/some/path?q=1`);
    expect((await berth.get('web-tls.localhost')).status).toBe(200);
  });

  it('keeps plain HTTP on a domain added with --no-https-redirect', async () => {
    const own = await LocalCa.open(path.join(tmp.dir, 'own-ca'), 'Own CA');
    const leaf = await own.issue(['plain.berth-test.example']);
    fs.writeFileSync(path.join(tmp.dir, 'plain.pem'), leaf.certPem);
    fs.writeFileSync(path.join(tmp.dir, 'plain.key'), leaf.keyPem);
    const add = await berth.cli(['domain', 'plain.berth-test.example', '--no-https-redirect', ...web]);
    expect(add.code, add.stderr).toBe(0);
    expect((await uploadCert('plain.berth-test.example', 'plain.pem', 'plain.key')).code).toBe(0);
    expect(await berth.get('plain.berth-test.example')).toMatchObject({ status: 200, body: 'v1' });
    expect(await httpsGet(berth.httpsPort, 'plain.berth-test.example', own.certPem)).toMatchObject({
      status: 200,
    });
  });

  it.skipIf(!acme.installed)(acme.title, async () => {
    const add = await berth.cli(['domain', acmeDomain, ...web]);
    expect(add.code, add.stderr).toBe(0);
    const issued = await waitFor(
      'the ACME certificate',
      async () => {
        const d = JSON.parse((await berth.cli(['domain', 'list', '--json', ...web])).stdout);
        const c = d.custom.find((x: { hostname: string }) => x.hostname === acmeDomain)?.certificate;
        if (c?.status === 'failed') throw new Error(c.error);
        return c?.status === 'issued' ? c : null;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    expect(issued.source).toBe('acme');
    const first = await httpsGet(berth.httpsPort, acmeDomain, pebbleRoot);
    expect(first).toMatchObject({ status: 200, body: 'v1' });

    // A restart with every certificate inside the renewal window renews it in the background.
    await berth.stopDaemon();
    await berth.startDaemon({ NODE_EXTRA_CA_CERTS: pebble.caFile, BERTH_RENEW_BEFORE_DAYS: '100000' });
    const renewed = await waitFor(
      'a renewed certificate on the edge',
      async () => {
        const r = await httpsGet(berth.httpsPort, acmeDomain, pebbleRoot);
        return r.serial !== first.serial ? r : null;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    expect(renewed).toMatchObject({ status: 200, body: 'v1' });
  });

  it('keeps serving HTTPS while the daemon is dead', async () => {
    await berth.killDaemon();
    const res = await httpsGet(berth.httpsPort, 'web-tls.localhost', localCa());
    expect(res).toMatchObject({ status: 200, body: 'v1' });
    await berth.startDaemon(acme.installed ? { NODE_EXTRA_CA_CERTS: pebble.caFile } : {});
  });
});
