/**
 * DNS labels (RFC 1035: at most 63 characters). A name cut to fit ends in a short hash of the whole name, so
 * two long names that share a prefix still get different labels.
 */
import { createHash } from 'node:crypto';

export const MAX_DNS_LABEL = 63;

/** `label` (already lowercase letters, digits and `-`) cut to 63 characters when longer. */
export function fitDnsLabel(label: string, whole: string = label): string {
  if (label.length <= MAX_DNS_LABEL) return label;
  const hash = createHash('sha256').update(whole).digest('hex').slice(0, 8);
  return `${label.slice(0, MAX_DNS_LABEL - 9).replace(/-+$/, '')}-${hash}`;
}
