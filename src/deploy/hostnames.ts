import { generatedLabel } from '../core/hostname-label.js';

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
  return `${generatedLabel(p)}.${p.domain.toLowerCase()}`;
}

export function publicUrl(hostname: string, httpPort: number): string {
  return httpPort === 80 ? `http://${hostname}` : `http://${hostname}:${httpPort}`;
}
