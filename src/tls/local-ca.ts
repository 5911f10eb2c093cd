/**
 * Berth's local certificate authority: one CA per data dir (`<data-dir>/ca/ca.pem` + `ca.key`, 0600),
 * created on first use, that signs short-lived certificates for the generated `*.localhost`-style domains
 * no public CA will certify. Trust `ca.pem` once (browser or system store) and every generated URL is
 * valid HTTPS. ECDSA P-256 through WebCrypto; @peculiar/x509 builds the certificates. The library is loaded
 * on first use only, so a daemon without HTTPS does not carry it.
 * A CA created for a zone carries critical name constraints: TLS clients accept its leaves only for that zone
 * (and no IP address), so its key, if stolen, cannot impersonate other sites to the people who trusted it.
 */

import { webcrypto } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { writeFileAtomic } from '../lib/atomic-write.js';

export interface IssuedCertificate {
  /** Leaf certificate followed by the chain, PEM. */
  certPem: string;
  /** PKCS#8 private key, PEM. */
  keyPem: string;
  notAfter: Date;
}

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const CA_YEARS = 10;
/** Leaf lifetime; browsers refuse leaves valid for more than 398 days. */
export const LOCAL_LEAF_DAYS = 90;

/** id-ce-nameConstraints (RFC 5280 §4.2.1.10). */
const NAME_CONSTRAINTS_OID = '2.5.29.30';

type X509 = typeof import('@peculiar/x509');
let x509: X509 | null = null;
async function lib(): Promise<X509> {
  if (x509 === null) {
    x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  }
  return x509;
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/.{1,64}/g, '$&\n')}-----END ${label}-----\n`;
}

async function importKey(keyPem: string): Promise<CryptoKey> {
  const der = Buffer.from(keyPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  return webcrypto.subtle.importKey('pkcs8', der, KEY_ALGORITHM, false, ['sign']) as Promise<CryptoKey>;
}

/**
 * Permitted: DNS names in the zone (the name itself and every name below it). Excluded: every IPv4 and IPv6
 * address (a permitted DNS subtree alone leaves IP addresses unconstrained). Leaves carry only DNS names.
 */
async function nameConstraints(zone: string): Promise<Extension> {
  const x = await lib();
  const { AsnConvert } = await import('@peculiar/asn1-schema');
  const { GeneralName, GeneralSubtree, GeneralSubtrees, NameConstraints } = await import(
    '@peculiar/asn1-x509'
  );
  const subtree = (base: ConstructorParameters<typeof GeneralName>[0]) =>
    new GeneralSubtree({ base: new GeneralName(base) });
  const value = new NameConstraints({
    permittedSubtrees: new GeneralSubtrees([subtree({ dNSName: zone })]),
    excludedSubtrees: new GeneralSubtrees([
      subtree({ iPAddress: '0.0.0.0/0' }),
      subtree({ iPAddress: '::/0' }),
    ]),
  });
  return new x.Extension(NAME_CONSTRAINTS_OID, true, AsnConvert.serialize(value));
}

type Extension = InstanceType<X509['Extension']>;

/** The DNS zones a CA certificate is constrained to, or null when it has no name constraints. */
export async function permittedZones(certPem: string): Promise<string[] | null> {
  const x = await lib();
  const ext = new x.X509Certificate(certPem).getExtension(NAME_CONSTRAINTS_OID);
  if (!ext) return null;
  const { AsnConvert } = await import('@peculiar/asn1-schema');
  const { NameConstraints } = await import('@peculiar/asn1-x509');
  const nc = AsnConvert.parse(ext.value, NameConstraints);
  return (nc.permittedSubtrees ?? []).flatMap((s) => (s.base.dNSName ? [s.base.dNSName] : []));
}

function inZone(hostname: string, zone: string): boolean {
  const h = hostname.toLowerCase();
  const z = zone.toLowerCase();
  return h === z || h.endsWith(`.${z}`);
}

export class LocalCa {
  private constructor(
    readonly certPem: string,
    private readonly keyPem: string,
    readonly certFile: string,
  ) {}

  /**
   * Loads the CA of `dir`, creating it (and the dir, 0700) the first time; with `zone`, a new CA is
   * constrained to it. An existing CA is used as it is (CertificateManager warns when it is unconstrained).
   */
  static async open(dir: string, name = 'Berth local CA', opts: { zone?: string } = {}): Promise<LocalCa> {
    const certFile = path.join(dir, 'ca.pem');
    const keyFile = path.join(dir, 'ca.key');
    if (fs.existsSync(certFile) && fs.existsSync(keyFile)) {
      return new LocalCa(fs.readFileSync(certFile, 'utf8'), fs.readFileSync(keyFile, 'utf8'), certFile);
    }
    const x = await lib();
    const keys = (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const now = new Date();
    const cert = await x.X509CertificateGenerator.createSelfSigned({
      name: `CN=${name}, O=Berth`,
      notBefore: new Date(now.getTime() - 60_000),
      notAfter: new Date(now.getTime() + CA_YEARS * 365 * 86_400_000),
      keys,
      signingAlgorithm: SIGNING,
      extensions: [
        new x.BasicConstraintsExtension(true, 0, true),
        new x.KeyUsagesExtension(x.KeyUsageFlags.keyCertSign | x.KeyUsageFlags.cRLSign, true),
        await x.SubjectKeyIdentifierExtension.create(keys.publicKey),
        ...(opts.zone ? [await nameConstraints(opts.zone)] : []),
      ],
    });
    const keyPem = pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Key first, and both via rename, so a crash never leaves a certificate without its key.
    for (const [file, text, mode] of [
      [keyFile, keyPem, 0o600],
      [certFile, cert.toString('pem'), 0o644],
    ] as const) {
      writeFileAtomic(file, text.endsWith('\n') ? text : `${text}\n`, { mode, durable: true });
    }
    return new LocalCa(fs.readFileSync(certFile, 'utf8'), keyPem, certFile);
  }

  /** A server certificate for these host names, signed by this CA. */
  async issue(hostnames: string[], days = LOCAL_LEAF_DAYS): Promise<IssuedCertificate> {
    if (hostnames.length === 0) throw new Error('a certificate needs at least one host name');
    const x = await lib();
    // A leaf the CA's own constraints forbid would only fail in every client; say why here instead.
    const zones = await permittedZones(this.certPem);
    const outside = zones ? hostnames.find((h) => !zones.some((z) => inZone(h, z))) : undefined;
    if (outside !== undefined) {
      throw new Error(
        `the local CA in ${path.dirname(this.certFile)} signs only names under ${zones?.join(', ')}, not ${outside}; start the server once with --regenerate-ca`,
      );
    }
    const ca = new x.X509Certificate(this.certPem);
    const caKey = await importKey(this.keyPem);
    const keys = (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const now = new Date();
    const notAfter = new Date(now.getTime() + days * 86_400_000);
    const leaf = await x.X509CertificateGenerator.create({
      subject: `CN=${hostnames[0]}`,
      issuer: ca.subject,
      notBefore: new Date(now.getTime() - 60_000),
      notAfter,
      publicKey: keys.publicKey,
      signingKey: caKey,
      signingAlgorithm: SIGNING,
      extensions: [
        new x.BasicConstraintsExtension(false, undefined, true),
        new x.KeyUsagesExtension(x.KeyUsageFlags.digitalSignature, true),
        new x.ExtendedKeyUsageExtension([x.ExtendedKeyUsage.serverAuth]),
        new x.SubjectAlternativeNameExtension(
          hostnames.map((h) => ({ type: net.isIP(h) === 0 ? ('dns' as const) : ('ip' as const), value: h })),
        ),
        await x.SubjectKeyIdentifierExtension.create(keys.publicKey),
        await x.AuthorityKeyIdentifierExtension.create(ca),
      ],
    });
    return {
      certPem: `${leaf.toString('pem')}\n${this.certPem.trimEnd()}\n`,
      keyPem: pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)),
      notAfter,
    };
  }
}
