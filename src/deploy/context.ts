import type { Deployment, Environment, GitMeta, Project, Service } from '../core/model.js';
import { gitVariables } from '../git/meta.js';
import type { Store } from '../store/store.js';
import { publicHostname, publicUrl } from './hostnames.js';
import { type PrivateAddress, privateAddressOf, privateDomain } from './private-network.js';

/** A deployment with the names around it, resolved once. */
export interface DeploymentScope {
  deployment: Deployment;
  service: Service;
  environment: Environment;
  project: Project;
  hostname: string;
  url: string;
  /** `<service>.<environment>.<project>.internal`, reachable by the environment's other services. */
  privateDomain: string;
  privateAddress: PrivateAddress;
  /** The commit of a `git push` deployment (or of the one it redeploys), else null. */
  git?: GitMeta | null;
}

export interface SiteOptions {
  domain: string;
  httpPort: number;
  /** The edge's HTTPS port; null or absent when it serves HTTP only. */
  httpsPort?: number | null;
  /** The interface the edge binds for public traffic (public data service ports too); default 0.0.0.0. */
  bindHost?: string;
}

/** Names and public address of one service in one environment. */
export function siteOf(
  store: Store,
  serviceId: string,
  environmentId: string,
  site: SiteOptions,
): Omit<DeploymentScope, 'deployment'> {
  const service = store.services.getById(serviceId);
  const environment = store.environments.getById(environmentId);
  const project = store.projects.getById(service.projectId);
  const hostname = publicHostname({
    project: project.name,
    environment: environment.name,
    service: service.name,
    domain: site.domain,
  });
  const names = { project: project.name, environment: environment.name, service: service.name };
  return {
    service,
    environment,
    project,
    hostname,
    url: publicUrl(hostname, site.httpPort),
    privateDomain: privateDomain(names),
    privateAddress: privateAddressOf(store, serviceId, environmentId),
  };
}

export function scopeOf(store: Store, deployment: Deployment, site: SiteOptions): DeploymentScope {
  return {
    deployment,
    ...siteOf(store, deployment.serviceId, deployment.environmentId, site),
    git: store.deployments.findGitMeta(deployment.id),
  };
}

/**
 * Variables Berth provides to every build, pre-deploy command and replica: Railway's names so apps
 * run unchanged, and BERTH_* twins. User variables override these, except where noted by the caller.
 */
export function providedVariables(
  scope: Omit<DeploymentScope, 'deployment'> & { deployment?: Deployment },
  replica?: { id: string; port: number },
) {
  const v: Record<string, string> = {
    RAILWAY_PROJECT_NAME: scope.project.name,
    RAILWAY_PROJECT_ID: scope.project.id,
    RAILWAY_ENVIRONMENT_NAME: scope.environment.name,
    RAILWAY_ENVIRONMENT_ID: scope.environment.id,
    RAILWAY_ENVIRONMENT: scope.environment.name,
    RAILWAY_SERVICE_NAME: scope.service.name,
    RAILWAY_SERVICE_ID: scope.service.id,
    RAILWAY_PUBLIC_DOMAIN: scope.hostname,
    RAILWAY_STATIC_URL: scope.hostname,
    BERTH_PROJECT_NAME: scope.project.name,
    BERTH_PROJECT_ID: scope.project.id,
    BERTH_ENVIRONMENT_NAME: scope.environment.name,
    BERTH_ENVIRONMENT_ID: scope.environment.id,
    BERTH_SERVICE_NAME: scope.service.name,
    BERTH_SERVICE_ID: scope.service.id,
    BERTH_PUBLIC_DOMAIN: scope.hostname,
    BERTH_PUBLIC_URL: scope.url,
    RAILWAY_PRIVATE_DOMAIN: scope.privateDomain,
    BERTH_PRIVATE_DOMAIN: scope.privateDomain,
    // The service's default private port; a replica gets its own PORT below, and a PORT variable wins.
    PORT: String(scope.privateAddress.defaultPort),
  };
  if (scope.deployment) {
    v.RAILWAY_DEPLOYMENT_ID = scope.deployment.id;
    v.RAILWAY_SNAPSHOT_ID = scope.deployment.sourceDeploymentId ?? scope.deployment.id;
    v.BERTH_DEPLOYMENT_ID = scope.deployment.id;
  }
  if (scope.git) Object.assign(v, gitVariables(scope.git));
  if (replica) {
    v.RAILWAY_REPLICA_ID = replica.id;
    v.BERTH_REPLICA_ID = replica.id;
    v.PORT = String(replica.port);
  }
  return v;
}

/** The host environment a user command starts from: enough to find programs, nothing of the daemon's secrets. */
export function baseEnvironment(): Record<string, string> {
  const keep = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'USER', 'SHELL'];
  const env: Record<string, string> = {};
  for (const k of keep) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  return env;
}
