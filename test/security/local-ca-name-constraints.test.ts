import { execFile } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/lib/wait.js';
import { LocalCa } from '../../src/tls/local-ca.js';
import { BerthHarness } from '../helpers/berth.js';
import { httpsGet } from '../helpers/https.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);
const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

/**
 * What someone holding the CA's key (ca.key) could forge: a server certificate for any names, signed by it.
 * Built here with @peculiar/x509, not through Berth's LocalCa, which refuses names outside its zone itself.
 */
async function forgeLeaf(caDir: string, names: string[]): Promise<{ certPem: string; keyPem: string }> {
  const caCert = new x509.X509Certificate(fs.readFileSync(path.join(caDir, 'ca.pem'), 'utf8'));
  const caKeyDer = Buffer.from(
    fs.readFileSync(path.join(caDir, 'ca.key'), 'utf8').replace(/-----[^-]+-----|\s/g, ''),
    'base64',
  );
  const caKey = await webcrypto.subtle.importKey('pkcs8', caKeyDer, EC, false, ['sign']);
  const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
  const leaf = await x509.X509CertificateGenerator.create({
    subject: `CN=${names[0]}`,
    issuer: caCert.subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    publicKey: keys.publicKey,
    signingKey: caKey as CryptoKey,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        names.map((n) => ({ type: net.isIP(n) === 0 ? ('dns' as const) : ('ip' as const), value: n })),
      ),
    ],
  });
  const keyDer = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return {
    certPem: leaf.toString('pem'),
    keyPem: `-----BEGIN PRIVATE KEY-----\n${keyDer.toString('base64')}\n-----END PRIVATE KEY-----\n`,
  };
}

/** A TLS handshake with Node's client (only `ca` trusted) against a local server presenting `leaf`. */
async function handshake(leaf: { certPem: string; keyPem: string }, ca: string, servername: string) {
  const server = tls.createServer({ cert: leaf.certPem, key: leaf.keyPem }, (s) => s.end());
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  try {
    return await new Promise<{ ok: true } | { ok: false; code: string; message: string }>((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername, ca }, () => {
        socket.end();
        resolve({ ok: true });
      });
      socket.on('error', (err: NodeJS.ErrnoException) =>
        resolve({ ok: false, code: err.code ?? '', message: err.message }),
      );
    });
  } finally {
    await new Promise((r) => server.close(r));
  }
}

function opensslVerify(caFile: string, leafFile: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('openssl', ['verify', '-CAfile', caFile, leafFile], (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

const hasOpenssl = await new Promise<boolean>((r) => execFile('openssl', ['version'], (err) => r(!err)));

describe('the local CA users are told to trust', () => {
  const berth = new BerthHarness();
  const web = ['-p', 'nc', '-s', 'web'];
  let caDir = '';
  beforeAll(async () => {
    await berth.start();
    caDir = path.join(berth.dataDir, 'ca');
    const up = await berth.cli(['up', berth.app('lifecycle', 'web'), ...web]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('signs for its zone only: a leaf forged with its key for another site fails verification', async () => {
    const ca = fs.readFileSync(path.join(caDir, 'ca.pem'), 'utf8');
    // The server's own leaf for the generated name verifies.
    expect((await httpsGet(berth.httpsPort, 'web-nc.localhost', ca)).status).toBe(200);

    // Forged with the stolen key: inside the zone it still verifies (the forging is sound)...
    const inside = await forgeLeaf(caDir, ['evil.localhost']);
    expect(await handshake(inside, ca, 'evil.localhost')).toEqual({ ok: true });
    // ...outside it, Node's TLS refuses the chain, and IP addresses are excluded altogether.
    const bank = await forgeLeaf(caDir, ['bank.example.com']);
    const refused = await handshake(bank, ca, 'bank.example.com');
    // (Node reports the code as UNSPECIFIED; OpenSSL's reason is the message.)
    expect(refused).toMatchObject({ ok: false, message: 'permitted subtree violation' });
    const ip = await forgeLeaf(caDir, ['93.184.216.34']);
    expect(await handshake(ip, ca, '')).toMatchObject({ ok: false, message: 'excluded subtree violation' });
    // A name that merely ends like the zone is outside it too.
    const lookalike = await forgeLeaf(caDir, ['notlocalhost']);
    expect(await handshake(lookalike, ca, 'notlocalhost')).toMatchObject({
      ok: false,
      message: 'permitted subtree violation',
    });

    // Berth itself refuses to sign outside the zone, with the reason.
    const own = await LocalCa.open(caDir);
    await expect(own.issue(['bank.example.com'])).rejects.toThrow(
      /signs only names under localhost, not bank\.example\.com; start the server once with --regenerate-ca/,
    );

    if (hasOpenssl) {
      const file = (name: string, pem: string) => {
        const f = path.join(berth.dir, name);
        fs.writeFileSync(f, pem);
        return f;
      };
      const caFile = path.join(caDir, 'ca.pem');
      expect((await opensslVerify(caFile, file('inside.pem', inside.certPem))).code).toBe(0);
      const out = await opensslVerify(caFile, file('bank.pem', bank.certPem));
      expect(out.code).not.toBe(0);
      expect(out.out).toContain('permitted subtree violation');
    }
  });

  it('warns at start about an unconstrained CA, and --regenerate-ca replaces it and re-issues', async () => {
    // A CA made before name constraints existed.
    await berth.stopDaemon();
    fs.rmSync(caDir, { recursive: true });
    const old = await LocalCa.open(caDir);
    expect(
      await handshake(await forgeLeaf(caDir, ['bank.example.com']), old.certPem, 'bank.example.com'),
    ).toEqual({
      ok: true,
    });
    await berth.startDaemon();
    await waitFor('the warning', () => berth.serverLog().includes('has no name constraints'));
    expect(berth.serverLog()).toContain('start the server once with --regenerate-ca');
    // Kept as it is: users' trust in it does not break behind their backs.
    expect(fs.readFileSync(path.join(caDir, 'ca.pem'), 'utf8')).toBe(old.certPem);

    await berth.stopDaemon();
    berth.serverArgs = ['--regenerate-ca'];
    await berth.startDaemon();
    berth.serverArgs = [];
    expect(berth.serverLog()).toMatch(/Removed the local CA in .* and the \d+ certificate\(s\) it issued/);
    const fresh = fs.readFileSync(path.join(caDir, 'ca.pem'), 'utf8');
    expect(fresh).not.toBe(old.certPem);
    // The edge serves a leaf of the new CA, and the new CA is constrained.
    await waitFor('the re-issued leaf', async () => {
      try {
        return (await httpsGet(berth.httpsPort, 'web-nc.localhost', fresh)).status === 200;
      } catch {
        return false;
      }
    });
    const bank = await forgeLeaf(caDir, ['bank.example.com']);
    expect(await handshake(bank, fresh, 'bank.example.com')).toMatchObject({
      ok: false,
      message: 'permitted subtree violation',
    });
  });
});
