import { fitDnsLabel } from '../lib/dns-label.js';

/**
 * Generated public hostnames: `<service>-<project>.<domain>` in production and
 * `<service>-<project>-<environment>.<domain>` elsewhere (Railway's `*.up.railway.app` shape), the label cut
 * to 63 characters.
 */
export function publicHostname(p: {
  project: string;
  environment: string;
  service: string;
  domain: string;
}): string {
  const parts = [p.service, p.project];
  if (p.environment !== 'production') parts.push(p.environment);
  const label = parts
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-');
  // A long branch preview (`<service>-<project>-br-<branch>`) would not be a valid host name otherwise.
  return `${fitDnsLabel(label)}.${p.domain.toLowerCase()}`;
}

export function publicUrl(hostname: string, httpPort: number): string {
  return httpPort === 80 ? `http://${hostname}` : `http://${hostname}:${httpPort}`;
}
