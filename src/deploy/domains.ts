/**
 * A service's custom domains and their certificates: added, removed and served at once (the next routing
 * table), without a deploy. The generated domain is the service's own and cannot be taken.
 */

import { domainKey, normalizeCustomDomain } from '../core/domains.js';
import { NotFoundError, UserError } from '../core/errors.js';
import type { Environment, Service } from '../core/model.js';
import type { Store } from '../store/store.js';
import type { CertificateInfo, CertificateManager } from '../tls/certificates.js';
import { type SiteOptions, siteOf } from './context.js';
import { publicUrl } from './hostnames.js';

export interface ServiceDomains {
  generated: { hostname: string; url: string; httpsUrl: string | null };
  custom: {
    hostname: string;
    url: string;
    httpsUrl: string | null;
    httpsRedirect: boolean;
    createdAt: string;
    certificate: CertificateInfo | null;
  }[];
}

export interface DomainsDeps {
  store: Store;
  site: SiteOptions;
  /** null when the edge serves HTTP only. */
  certificates: CertificateManager | null;
  /** Hands the edge the table with the change. */
  routes: { sync(): Promise<void> };
}

export class Domains {
  constructor(private readonly deps: DomainsDeps) {}

  /** The generated domain of a service and its custom ones, with their URLs. */
  of(service: Service, env: Environment): ServiceDomains {
    const site = siteOf(this.deps.store, service.id, env.id, this.deps.site);
    return {
      generated: { hostname: site.hostname, url: site.url, httpsUrl: this.httpsUrl(site.hostname) },
      custom: this.deps.store.domains.list(service.id, env.id).map((d) => ({
        hostname: d.hostname,
        url: publicUrl(d.hostname, this.deps.site.httpPort),
        httpsUrl: this.httpsUrl(d.hostname),
        httpsRedirect: d.httpsRedirect,
        createdAt: d.createdAt,
        certificate: this.deps.certificates?.info(d.hostname) ?? null,
      })),
    };
  }

  /** Stores an uploaded certificate for a custom domain of this service and hands it to the edge. */
  async uploadCertificate(
    service: Service,
    env: Environment,
    hostname: string,
    pem: { cert: string; key: string },
  ): Promise<ServiceDomains> {
    const name = domainKey(hostname);
    const owner = this.deps.store.domains.find(name);
    if (!owner || owner.serviceId !== service.id || owner.environmentId !== env.id) {
      throw new NotFoundError(
        `${service.name} (${env.name}) has no custom domain ${name}; add it first with \`berth domain ${name}\`.`,
      );
    }
    if (!this.deps.certificates) {
      throw new UserError(
        'This server serves HTTP only (--no-https); restart it with HTTPS to use certificates.',
      );
    }
    this.deps.certificates.upload(name, pem.cert, pem.key);
    await this.deps.routes.sync();
    return this.of(service, env);
  }

  /** Adds a custom domain and routes it at once (the edge serves it from the next table on). */
  async add(
    service: Service,
    env: Environment,
    input: string,
    opts: { httpsRedirect?: boolean } = {},
  ): Promise<ServiceDomains> {
    const hostname = normalizeCustomDomain(input);
    const generatedZone = this.deps.site.domain.toLowerCase();
    const generated = this.deps.store.generatedNames
      .list()
      .find((n) => `${n.label}.${generatedZone}` === hostname);
    if (generated) {
      throw new UserError(
        `${hostname} is the generated host name of service "${generated.service}" of project "${generated.project}" (${generated.environment}); use a domain of your own.`,
        { status: 409, code: 'domain_taken' },
      );
    }
    if (hostname === generatedZone || hostname.endsWith(`.${generatedZone}`)) {
      throw new UserError(
        `${hostname} is under ${generatedZone}, where Berth generates service domains; use a domain of your own.`,
        { code: 'invalid_domain' },
      );
    }
    this.deps.store.domains.add(hostname, service.id, env.id, opts.httpsRedirect ?? true);
    await this.deps.routes.sync();
    return this.of(service, env);
  }

  async delete(service: Service, env: Environment, input: string): Promise<ServiceDomains> {
    const hostname = domainKey(input);
    if (this.deps.store.domains.delete(hostname, service.id, env.id)) {
      this.deps.store.certificates.delete(hostname);
    } else {
      throw new NotFoundError(
        `${service.name} (${env.name}) has no custom domain ${hostname}; see them with \`berth domain list\`.`,
      );
    }
    await this.deps.routes.sync();
    return this.of(service, env);
  }

  private httpsUrl(hostname: string): string | null {
    const p = this.deps.site.httpsPort ?? null;
    if (p === null) return null;
    return p === 443 ? `https://${hostname}` : `https://${hostname}:${p}`;
  }
}
