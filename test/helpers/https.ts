import https from 'node:https';
import type { TLSSocket } from 'node:tls';

export interface TlsAnswer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  serial: string;
  validTo: string;
}

/** GET over HTTPS to 127.0.0.1:port, with SNI = Host = host and only `ca` trusted. */
export function httpsGet(port: number, host: string, ca: string, p = '/'): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      {
        host: '127.0.0.1',
        port,
        path: p,
        servername: host,
        headers: { host },
        ca,
        agent: false,
        timeout: 5000,
      },
      (res) => {
        const cert = (res.socket as TLSSocket).getPeerCertificate();
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString();
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            headers: res.headers,
            serial: cert.serialNumber,
            validTo: cert.valid_to,
          }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}
