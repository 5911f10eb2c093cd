/**
 * The daemon's side of HTTPS: which certificate each routed host name gets, and keeping it valid.
 *
 * - Generated host names (under --domain) get a leaf from Berth's local CA (local-ca.ts), renewed well
 *   before it expires.
 * - Custom domains use an uploaded certificate when there is one, else ACME (acme.ts) when the server has
 *   an ACME account configured, issued in the background; the attempt's outcome is recorded so a failure
 *   is visible (`berth domain list`) and retried by the daily renewal pass, never silent.
 * - Before each routing table goes to the edge, prepare() writes `<edge-state>/certs/<hostname>.pem`
 *   (key + chain, 0600) for every routed name that has a certificate and removes the others.
 *
 * Keys live sealed in SQLite (store: certificates); the files in the edge's state dir are its working copy.
 */

import crypto, { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import { writeFileAtomic } from '../lib/atomic-write.js';
import type { CertificateSource } from '../store/certificates.js';
import type { Store } from '../store/store.js';
import { type AcmeOptions, createAccountKey } from './acme.js';
import { issueInChildProcess, localCaZonesInChildProcess } from './issue-process.js';
import type { IssuedCertificate } from './local-ca.js';

export interface CertificateManagerOptions {
  /** Zone of the generated host names (--domain); they get local-CA certificates. */
  generatedZone: string;
  /** Berth's local CA directory (created with its key on first issuance). */
  caDir: string;
  /** The edge's certificate directory (one PEM per host name). */
  edgeCertsDir: string;
  /** Where the edge serves ACME HTTP-01 challenges from. */
  challengeDir: string;
  /** null: custom domains get certificates only by upload. */
  acme: AcmeOptions | null;
  /** Renew certificates that expire within this many days (default 30). */
  renewBeforeDays?: number;
  log: (msg: string) => void;
  /** A certificate was issued in the background: applies it to the edge; resolves once it serves it (or failed). */
  onIssued: () => Promise<void>;
}

export interface CertificateInfo {
  source: CertificateSource | null;
  notAfter: string | null;
  /** issued | pending | failed | none */
  status: string;
  error: string | null;
}

const ACCOUNT_KEY_META = 'acme_account_key';

export class CertificateManager {
  private readonly issuing = new Map<string, Promise<void>>();
  /** updatedAt of the certificate version last written to the edge's directory, by host name. */
  private readonly written = new Map<string, string>();
  private readonly renewBeforeMs: number;

  constructor(
    private readonly store: Store,
    private readonly opts: CertificateManagerOptions,
  ) {
    this.renewBeforeMs = (opts.renewBeforeDays ?? 30) * 86_400_000;
  }

  private generated(hostname: string): boolean {
    const zone = this.opts.generatedZone.toLowerCase();
    return hostname === zone || hostname.endsWith(`.${zone}`);
  }

  private due(notAfter: string): boolean {
    return Date.parse(notAfter) - Date.now() < this.renewBeforeMs;
  }

  /**
   * Makes sure every routed host name that can have a certificate has one on disk for the edge: missing
   * ones are issued (local CA inline, in milliseconds; ACME in the background). Renewal is renewDue's job,
   * so a routing change never re-issues anything.
   */
  async prepare(hostnames: string[]): Promise<void> {
    const wanted = new Set(hostnames.map((h) => h.toLowerCase()));
    for (const hostname of wanted) {
      const cert = this.store.certificates.findInfo(hostname);
      if (this.generated(hostname)) {
        if (cert === null || Date.parse(cert.notAfter) < Date.now()) await this.issueLocal(hostname);
      } else if (cert === null && this.opts.acme !== null) {
        // A failed attempt is retried by the renewal pass, not on every routing change.
        if (this.store.certificates.findAttempt(hostname)?.status !== 'failed')
          this.issueInBackground(hostname);
      }
    }
    // Names that left (a deleted preview environment, a removed service) take their keys with them;
    // custom domains keep theirs while they exist, deployed or not.
    for (const hostname of this.store.certificates.hostnames()) {
      if (!wanted.has(hostname) && this.store.domains.find(hostname) === null)
        this.store.certificates.delete(hostname);
    }
    this.writeEdgeFiles(wanted);
  }

  /** Renewal pass (daily and at start): re-issues what is due, retries failed ACME attempts. */
  async renewDue(hostnames: string[]): Promise<void> {
    for (const hostname of hostnames) {
      const cert = this.store.certificates.findInfo(hostname);
      if (this.generated(hostname)) {
        if (cert === null || this.due(cert.notAfter)) await this.issueLocal(hostname);
      } else if (
        this.opts.acme !== null &&
        cert?.source !== 'file' &&
        (cert === null || this.due(cert.notAfter))
      ) {
        this.issueInBackground(hostname);
      }
    }
  }

  /**
   * A warning when the local CA users were told to trust is not constrained to this server's zone (one made
   * before CAs carried name constraints, or for another --domain), else null. Such a CA is kept: replacing it
   * would break every browser that trusts it; --regenerate-ca does that on request.
   */
  async checkLocalCa(): Promise<string | null> {
    if (!fs.existsSync(path.join(this.opts.caDir, 'ca.pem'))) return null;
    const zone = this.opts.generatedZone.toLowerCase();
    const zones = await localCaZonesInChildProcess(this.opts.caDir);
    if (zones?.includes(zone)) return null;
    const what =
      zones === null
        ? 'has no name constraints, so its key could sign certificates for any site for whoever trusts it'
        : `is limited to ${zones.join(', ')}, so its certificates for ${zone} are refused`;
    return `The local CA in ${this.opts.caDir} ${what}; start the server once with --regenerate-ca to replace it with one limited to ${zone} (then trust the new ca.pem instead of the old one).`;
  }

  /**
   * Replaces the local CA with a new one (constrained to the zone at its first issuance): the old CA's
   * files go, and every certificate it issued is dropped so that the next routing table re-issues it.
   */
  regenerateLocalCa(): string {
    fs.rmSync(this.opts.caDir, { recursive: true, force: true });
    let dropped = 0;
    for (const hostname of this.store.certificates.hostnames()) {
      if (this.store.certificates.findInfo(hostname)?.source !== 'local-ca') continue;
      this.store.certificates.delete(hostname);
      dropped++;
    }
    return `Removed the local CA in ${this.opts.caDir} and the ${dropped} certificate(s) it issued; a new CA limited to ${this.opts.generatedZone.toLowerCase()} signs them again now: trust its ca.pem instead of the old one.`;
  }

  /** Waits for background issuances (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.issuing.size > 0) await Promise.allSettled([...this.issuing.values()]);
  }

  info(hostname: string): CertificateInfo {
    const cert = this.store.certificates.findInfo(hostname);
    const attempt = this.store.certificates.findAttempt(hostname);
    if (attempt && attempt.status !== 'issued') {
      return {
        source: cert?.source ?? null,
        notAfter: cert?.notAfter ?? null,
        status: attempt.status,
        error: attempt.error,
      };
    }
    if (cert) return { source: cert.source, notAfter: cert.notAfter, status: 'issued', error: null };
    return { source: null, notAfter: null, status: 'none', error: null };
  }

  /** Stores an uploaded certificate after checking it fits the host name and the key. */
  upload(hostname: string, certPem: string, keyPem: string): void {
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(certPem);
    } catch {
      throw new UserError('The certificate is not a PEM certificate; pass the full chain file (leaf first).');
    }
    if (leaf.checkHost(hostname) === undefined) {
      throw new UserError(`The certificate is for ${leaf.subjectAltName ?? leaf.subject}, not ${hostname}.`);
    }
    try {
      if (!leaf.checkPrivateKey(crypto.createPrivateKey(keyPem))) throw new Error('mismatch');
    } catch {
      throw new UserError(`The private key does not belong to the certificate for ${hostname}.`);
    }
    if (Date.parse(leaf.validTo) < Date.now()) {
      throw new UserError(
        `The certificate for ${hostname} expired on ${new Date(leaf.validTo).toISOString()}.`,
      );
    }
    this.save(hostname, 'file', { certPem, keyPem, notAfter: new Date(leaf.validTo) });
  }

  /** Stores the certificate; `markIssued: false` leaves the attempt as it is (the caller marks it later). */
  private save(hostname: string, source: CertificateSource, c: IssuedCertificate, markIssued = true): void {
    this.store.certificates.save({
      hostname,
      source,
      certPem: c.certPem,
      keyPem: c.keyPem,
      notAfter: c.notAfter.toISOString(),
    });
    if (markIssued) this.store.certificates.setAttempt(hostname, 'issued', null);
  }

  private async issueLocal(hostname: string): Promise<void> {
    this.save(
      hostname,
      'local-ca',
      await issueInChildProcess({
        kind: 'local',
        caDir: this.opts.caDir,
        zone: this.opts.generatedZone.toLowerCase(),
        hostnames: [hostname],
      }),
    );
  }

  private issueInBackground(hostname: string): void {
    if (this.issuing.has(hostname)) return;
    const run = (async () => {
      this.store.certificates.setAttempt(hostname, 'pending', null);
      try {
        const acme = this.opts.acme as AcmeOptions;
        const issued = await issueInChildProcess({
          kind: 'acme',
          directoryUrl: acme.directoryUrl,
          email: acme.email,
          accountKeyPem: this.accountKey(),
          challengeDir: this.opts.challengeDir,
          hostname,
        });
        // An uploaded certificate that arrived meanwhile is the user's choice: keep it.
        if (this.store.certificates.findInfo(hostname)?.source === 'file') return;
        // "issued" once the edge serves it, so `berth domain list` never promises HTTPS a moment early.
        this.save(hostname, 'acme', issued, false);
        this.opts.log(`certificate issued for ${hostname}`);
        try {
          await this.opts.onIssued();
        } finally {
          this.store.certificates.setAttempt(hostname, 'issued', null);
        }
      } catch (err) {
        const why = (err as Error).message;
        if (this.store.certificates.findInfo(hostname)?.source === 'file') return;
        this.store.certificates.setAttempt(hostname, 'failed', why);
        this.opts.log(`certificate for ${hostname} failed: ${why}`);
      }
    })().finally(() => this.issuing.delete(hostname));
    this.issuing.set(hostname, run);
  }

  private accountKey(): string {
    const sealed = this.store.meta.find(ACCOUNT_KEY_META);
    if (sealed !== null) return this.store.secretBox.open(sealed, ACCOUNT_KEY_META);
    const key = createAccountKey();
    this.store.meta.set(ACCOUNT_KEY_META, this.store.secretBox.seal(key, ACCOUNT_KEY_META));
    return key;
  }

  private writeEdgeFiles(hostnames: Set<string>): void {
    const dir = this.opts.edgeCertsDir;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const keep = new Set<string>();
    for (const hostname of hostnames) {
      const info = this.store.certificates.findInfo(hostname);
      if (info === null) continue;
      const file = path.join(dir, `${hostname}.pem`);
      keep.add(path.basename(file));
      // Routing changes happen on every deploy: open the sealed key only for a version not yet on disk.
      if (this.written.get(hostname) === info.updatedAt && fs.existsSync(file)) continue;
      const cert = this.store.certificates.find(hostname);
      if (cert === null) continue;
      writeFileAtomic(file, `${cert.keyPem.trimEnd()}\n${cert.certPem.trimEnd()}\n`);
      this.written.set(hostname, info.updatedAt);
    }
    for (const name of fs.readdirSync(dir)) {
      if (name.endsWith('.pem') && !keep.has(name)) fs.rmSync(path.join(dir, name), { force: true });
    }
    for (const hostname of this.written.keys()) if (!hostnames.has(hostname)) this.written.delete(hostname);
  }
}
