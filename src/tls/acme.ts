/**
 * Automatic certificates through ACME (RFC 8555) HTTP-01, with the `acme-client` package: the key
 * authorization goes into the edge's challenge directory, which the edge serves for every host at
 * `/.well-known/acme-challenge/<token>`, and the CA fetches it on port 80 of the domain. Let's Encrypt in
 * production; tests use Pebble. acme-client is loaded on first use only.
 */

import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { IssuedCertificate } from './local-ca.js';

export interface AcmeOptions {
  directoryUrl: string;
  /** Contact address for the ACME account (expiry notices). */
  email: string;
}

export const LETS_ENCRYPT_DIRECTORY = 'https://acme-v02.api.letsencrypt.org/directory';
/** Longest an issuance may take before it is reported as failed. */
const ISSUE_TIMEOUT_MS = 5 * 60_000;

type AcmeLib = typeof import('acme-client');
let lib: AcmeLib | null = null;
async function acme(): Promise<AcmeLib> {
  lib ??= (await import('acme-client')).default as unknown as AcmeLib;
  return lib;
}

/** A fresh ACME account key (ECDSA P-256, PKCS#8 PEM), to be stored sealed and reused. */
export function createAccountKey(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export class AcmeIssuer {
  constructor(
    private readonly opts: AcmeOptions,
    private readonly accountKeyPem: string,
    private readonly challengeDir: string,
  ) {}

  /** Orders, proves and downloads a certificate for `hostname`; rejects with the CA's reason. */
  async issue(hostname: string, signal?: AbortSignal): Promise<IssuedCertificate> {
    const a = await acme();
    const client = new a.Client({ directoryUrl: this.opts.directoryUrl, accountKey: this.accountKeyPem });
    const [key, csr] = await a.crypto.createCsr({ commonName: hostname, altNames: [hostname] });
    fs.mkdirSync(this.challengeDir, { recursive: true });
    const fileOf = (token: string) => {
      if (!/^[A-Za-z0-9_-]+$/.test(token))
        throw new Error(`the CA sent an unusable challenge token "${token}"`);
      return path.join(this.challengeDir, token);
    };
    const order = client.auto({
      csr,
      email: this.opts.email,
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      // The CA checks it; acme-client's own pre-check would assume the edge listens on port 80.
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        if (challenge.type !== 'http-01')
          throw new Error(`Berth answers http-01 challenges only, not ${challenge.type}`);
        fs.writeFileSync(fileOf(challenge.token), keyAuthorization, { mode: 0o644 });
      },
      challengeRemoveFn: async (_authz, challenge) => {
        fs.rmSync(fileOf(challenge.token), { force: true });
      },
    });
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no certificate after ${ISSUE_TIMEOUT_MS / 1000}s`)),
        ISSUE_TIMEOUT_MS,
      );
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
    try {
      const certPem = await Promise.race([order, limit]);
      const info = a.crypto.readCertificateInfo(certPem);
      return { certPem, keyPem: key.toString(), notAfter: info.notAfter };
    } finally {
      clearTimeout(timer);
      order.catch(() => undefined);
    }
  }
}
