/**
 * The certificates the edge's HTTPS listener serves, picked per connection by SNI. The daemon owns them
 * (issuing, renewal, storage) and writes one file per host name into `<state-dir>/certs/`:
 * `<hostname>.pem` holding the private key and the certificate chain (`*.example.com.pem` for a
 * wildcard). The edge reads the directory at start and on every reload.
 */

import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';

export const CERTS_DIR = 'certs';

export class CertificateSet {
  private contexts = new Map<string, tls.SecureContext>();

  get size(): number {
    return this.contexts.size;
  }

  /** Re-reads `dir`; a file that does not parse is skipped and reported, the others still load. */
  load(dir: string): string[] {
    const next = new Map<string, tls.SecureContext>();
    const problems: string[] = [];
    let names: string[] = [];
    try {
      names = fs.readdirSync(dir).filter((n) => n.endsWith('.pem'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        problems.push(`${dir}: ${(err as Error).message}`);
    }
    for (const name of names) {
      const file = path.join(dir, name);
      try {
        const pem = fs.readFileSync(file, 'utf8');
        next.set(name.slice(0, -4).toLowerCase(), tls.createSecureContext({ key: pem, cert: pem }));
      } catch (err) {
        problems.push(`${file}: ${(err as Error).message}`);
      }
    }
    this.contexts = next;
    return problems;
  }

  /** The context for an SNI name: exact match, else a wildcard one level up. */
  find(servername: string): tls.SecureContext | undefined {
    const name = servername.toLowerCase().replace(/\.$/, '');
    const exact = this.contexts.get(name);
    if (exact !== undefined) return exact;
    const dot = name.indexOf('.');
    return dot === -1 ? undefined : this.contexts.get(`*${name.slice(dot)}`);
  }

  readonly sniCallback = (
    servername: string,
    cb: (err: Error | null, ctx?: tls.SecureContext) => void,
  ): void => {
    const ctx = this.find(servername);
    if (ctx === undefined) cb(new Error(`no certificate for ${servername}`));
    else cb(null, ctx);
  };
}
