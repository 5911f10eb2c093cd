import { domainKey } from '../api/contract/domains.js';
import { UserError } from './errors.js';

/** The API matches `:hostname` in this form too, so it is part of the contract. */
export { domainKey };

/**
 * A custom domain as users type it → the lower-case host name the edge matches, or a UserError saying
 * what is wrong with it. Accepts `Shop.Example.com.` (case, trailing dot); refuses URLs, ports, IP
 * addresses, single labels and wildcards.
 */
export function normalizeCustomDomain(input: string): string {
  const raw = input.trim();
  const say = (why: string): never => {
    throw new UserError(`"${input}" is not a domain Berth can serve: ${why}.`, { code: 'invalid_domain' });
  };
  if (raw === '') say('it is empty');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) || raw.includes('/'))
    say('give the host name only, like shop.example.com');
  if (raw.includes(':')) say('leave out the port; Berth serves domains on its HTTP and HTTPS ports');
  if (raw.includes('*')) say('wildcard domains are not supported; add each host name');
  const host = domainKey(raw);
  if (host.length > 253) say('it is longer than 253 characters');
  if (/^\d+(\.\d+){3}$/.test(host)) say('it is an IP address; point a domain name at this server instead');
  const labels = host.split('.');
  if (labels.length < 2) say('it needs at least two labels, like example.com');
  for (const l of labels) {
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(l)) {
      say(`"${l}" is not a valid label (letters, digits and inner hyphens, at most 63 characters)`);
    }
  }
  return host;
}
