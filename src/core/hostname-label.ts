import { fitDnsLabel } from '../lib/dns-label.js';

/**
 * The first label of a generated host name: `<service>-<project>` in production, `<service>-<project>-<env>`
 * elsewhere (lower case, other characters → `-`, cut to 63). Different names can give the same label
 * (`svc-p` of `q` and `svc` of `p-q`), so every name that adds one is checked against the others.
 */
export function generatedLabel(p: { project: string; environment: string; service: string }): string {
  const parts = [p.service, p.project];
  if (p.environment !== 'production') parts.push(p.environment);
  const label = parts
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-');
  // A long branch preview (`<service>-<project>-br-<branch>`) would not be a valid host name otherwise.
  return fitDnsLabel(label);
}
