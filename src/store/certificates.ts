import { now, type Row, type StoreContext } from './context.js';
import { certificateAad } from './sealed-columns.js';

export type CertificateSource = 'local-ca' | 'acme' | 'file';

export interface StoredCertificate {
  hostname: string;
  source: CertificateSource;
  /** Leaf first, then the chain. */
  certPem: string;
  keyPem: string;
  /** ISO time the leaf expires. */
  notAfter: string;
}

/** What is known of a stored certificate without opening its key. */
export interface CertificateInfo {
  source: CertificateSource;
  notAfter: string;
  updatedAt: string;
}

export type CertificateAttemptStatus = 'pending' | 'failed' | 'issued';

export interface CertificateAttempt {
  status: string;
  error: string | null;
  updatedAt: string;
}

/** Tables `certificates` (private keys sealed) and `certificate_attempts` (the last issuance try per name). */
export class Certificates {
  constructor(private readonly ctx: StoreContext) {}

  save(c: StoredCertificate): void {
    this.ctx.db
      .prepare(
        `INSERT INTO certificates (hostname, source, cert_pem, key_pem, not_after, updated_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (hostname) DO UPDATE SET source = excluded.source, cert_pem = excluded.cert_pem,
           key_pem = excluded.key_pem, not_after = excluded.not_after, updated_at = excluded.updated_at`,
      )
      .run(
        c.hostname,
        c.source,
        c.certPem,
        this.ctx.box.seal(c.keyPem, certificateAad(c.hostname)),
        c.notAfter,
        now(),
      );
  }

  find(hostname: string): StoredCertificate | null {
    const r = this.ctx.db.prepare('SELECT * FROM certificates WHERE hostname = ?').get(hostname) as
      | Row
      | undefined;
    if (!r) return null;
    return {
      hostname,
      source: r.source as CertificateSource,
      certPem: r.cert_pem as string,
      keyPem: this.ctx.box.open(r.key_pem as string, certificateAad(hostname)),
      notAfter: r.not_after as string,
    };
  }

  /** Without opening the key (for checks on every routing change). */
  findInfo(hostname: string): CertificateInfo | null {
    const r = this.ctx.db
      .prepare('SELECT source, not_after, updated_at FROM certificates WHERE hostname = ?')
      .get(hostname) as Row | undefined;
    return r
      ? {
          source: r.source as CertificateSource,
          notAfter: r.not_after as string,
          updatedAt: r.updated_at as string,
        }
      : null;
  }

  hostnames(): string[] {
    return (this.ctx.db.prepare('SELECT hostname FROM certificates').all() as { hostname: string }[]).map(
      (r) => r.hostname,
    );
  }

  delete(hostname: string): void {
    this.ctx.db.prepare('DELETE FROM certificates WHERE hostname = ?').run(hostname);
    this.ctx.db.prepare('DELETE FROM certificate_attempts WHERE hostname = ?').run(hostname);
  }

  setAttempt(hostname: string, status: CertificateAttemptStatus, error: string | null): void {
    this.ctx.db
      .prepare(
        `INSERT INTO certificate_attempts (hostname, status, error, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (hostname) DO UPDATE SET status = excluded.status, error = excluded.error,
           updated_at = excluded.updated_at`,
      )
      .run(hostname, status, error, now());
  }

  findAttempt(hostname: string): CertificateAttempt | null {
    const r = this.ctx.db.prepare('SELECT * FROM certificate_attempts WHERE hostname = ?').get(hostname) as
      | Row
      | undefined;
    return r
      ? { status: r.status as string, error: (r.error as string) ?? null, updatedAt: r.updated_at as string }
      : null;
  }
}
