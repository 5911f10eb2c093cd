/**
 * Berth's own model (Railway's shape): project → environments → services → deployments → instances.
 * Nothing here knows about railway.toml; config parsing maps files onto ServiceConfig.
 */

import type { ServiceKind } from '../api/contract/data-services.js';
import type { DeploymentStatus } from '../api/contract/deployments.js';

/** Deployment statuses are Railway's public names: defined with the API's contract. */
export {
  DEPLOYMENT_STATUSES,
  type DeploymentStatus,
  TERMINAL_STATUSES,
} from '../api/contract/deployments.js';

export type RestartPolicyType = 'ON_FAILURE' | 'ALWAYS' | 'NEVER';
export type Builder = 'RAILPACK' | 'NIXPACKS' | 'DOCKERFILE' | 'HEROKU' | 'PAKETO';

/** The effective build+deploy settings of one deployment, after file, overrides and defaults. */
export interface ServiceConfig {
  build: {
    builder: Builder;
    buildCommand: string | null;
    watchPatterns: string[];
    dockerfilePath: string | null;
  };
  deploy: {
    startCommand: string | null;
    /** Each entry runs through `sh -c`, in order; a string in the file becomes one entry. */
    preDeployCommand: string[];
    healthcheckPath: string | null;
    healthcheckTimeout: number;
    restartPolicyType: RestartPolicyType;
    restartPolicyMaxRetries: number;
    numReplicas: number;
    cronSchedule: string | null;
    sleepApplication: boolean;
    /** Berth extension: with sleepApplication, how long without a request before the replicas stop. */
    sleepAfterSeconds: number;
    overlapSeconds: number;
    drainingSeconds: number;
    /**
     * Berth extension: without a healthcheckPath, a replica still running this long without listening on $PORT
     * is up (a worker). Deployments recorded before it existed lack it: read it through workerStabilityMs().
     */
    workerStabilitySeconds: number;
    /** Berth extension: never two instances at once (deploy/singleton.ts); absent on older deployments. */
    singleton: boolean;
    /** Berth extension: a cron run still going after this long is stopped and recorded as timed out. */
    cronTimeoutSeconds: number;
    /**
     * Resource limits per replica (Railway's limitOverride.containers, or Berth's keys), enforced with cgroups;
     * null: none (processes: Berth's default). Absent on older deployments, like the autoscaling keys below.
     */
    memoryLimit?: number | null;
    /** CPUs (0.5 = half a core). */
    cpuLimit?: number | null;
    pidsLimit?: number | null;
    /** Berth extension, autoscaling (deploy/autoscaler.ts): on when maxReplicas is set. */
    minReplicas?: number | null;
    maxReplicas?: number | null;
    /** CPU per replica, as a percentage of its cpuLimit (of one core without one). */
    targetCPUPercent?: number | null;
    /** How long CPU must stay above target before a replica is added (and the cooldown after a change). */
    scaleUpWindowSeconds?: number;
    /** How long CPU must stay well below target before a replica is removed. */
    scaleDownWindowSeconds?: number;
  };
  /**
   * Berth extension (`[edge]`): what the edge enforces in front of the service. Deployments recorded
   * before it existed have no `edge`; treat that as the defaults.
   */
  edge?: EdgeConfig;
}

export interface EdgeConfig {
  /** Requests per client IP per window; null = unlimited. */
  rateLimit: number | null;
  rateLimitWindowSeconds: number;
  /** Largest request body in bytes; null = unlimited. */
  maxBodySize: number | null;
  /** When non-empty, only these addresses/CIDRs may reach the service. */
  allowIps: string[];
  denyIps: string[];
  /** Path prefixes answered with 403. */
  denyPaths: string[];
}

/** Where one effective value came from, recorded per deployment ("build.builder" → file). */
export interface ValueOrigin {
  source: 'file' | 'override' | 'variable' | 'service settings' | 'default';
  /** The config file (relative to the source root) for file/override sources. */
  file?: string;
  /** The `[environments.<name>]` block for override sources. */
  environment?: string;
  /** The variable name for variable sources (e.g. RAILWAY_DEPLOYMENT_OVERLAP_SECONDS). */
  variable?: string;
}

/**
 * What Railway keeps in its dashboard for a service in one environment (`berth service update`); keys
 * absent are not set. A committed config file wins over each of them, as on Railway.
 */
export interface ServiceSettings {
  buildCommand?: string;
  watchPatterns?: string[];
  startCommand?: string;
  preDeployCommand?: string[];
  cronSchedule?: string;
  healthcheckPath?: string;
  numReplicas?: number;
}

export interface Project {
  id: string;
  name: string;
  createdAt: string;
}

/** `preview`: an ephemeral environment made for a branch (`br-<branch>`) or pull request (`pr-<n>`). */
export type EnvironmentKind = 'persistent' | 'preview';

export interface Environment {
  id: string;
  projectId: string;
  name: string;
  createdAt: string;
  kind: EnvironmentKind;
  /** The git branch that deploys here (previews), else null. */
  branch: string | null;
  /** The environment a preview was copied from (its config overrides apply below `pr`). */
  baseEnvironmentId: string | null;
}

/**
 * What a service is: an app built from source, or a data service Berth runs from a spec (an engine and its
 * settings) instead; defined with the API's contract. `redis` and `bucket` join the same way.
 */
export { SERVICE_KINDS, type ServiceKind } from '../api/contract/data-services.js';

export interface Service {
  id: string;
  projectId: string;
  name: string;
  createdAt: string;
  /** `app` (built from source) or a data service's engine. */
  kind: ServiceKind;
  /** Monorepos: the directory of the repository this service builds from (null = the repo root). */
  rootDirectory: string | null;
  /** Railway's config path, from the repository root (null = railway.toml/json in the root directory). */
  configPath: string | null;
  /** A remote repository the service tracks (deployed on its webhooks), else null. */
  repoUrl: string | null;
  /** The branch of repoUrl that deploys to production (default main). */
  repoBranch: string | null;
  /** Webhook deployments wait (WAITING) for a successful commit status before they run. */
  waitForChecks: boolean;
}

/** What a `git push` deployment records about its commit (deployments.git_* columns). */
export interface GitMeta {
  sha: string;
  branch: string;
  author: string;
  message: string;
}

/** Where a git deployment's source sits in its snapshot, and what the push changed. */
export interface DeploymentSource {
  rootDirectory: string | null;
  configPath: string | null;
  /** Repo-relative paths the push changed; null when unknown (then watchPatterns do not skip). */
  changedFiles: string[] | null;
}

export interface Deployment {
  id: string;
  serviceId: string;
  environmentId: string;
  status: DeploymentStatus;
  /** Plain-language reason for the current status (why it failed, what it is doing). */
  reason: string | null;
  createdAt: string;
  updatedAt: string;
  /** Deployment this one was rolled back to / redeployed from, if any. */
  sourceDeploymentId: string | null;
  kind: 'up' | 'redeploy' | 'rollback' | 'restart';
  message: string | null;
  /** Snapshot tarball of the uploaded source (immutable). */
  sourcePath: string;
  /** Built artifact directory, once built (immutable). */
  artifactPath: string | null;
  config: ServiceConfig | null;
  configOrigins: Record<string, ValueOrigin> | null;
  configWarnings: string[];
  /** The resolved variables this deployment runs with (snapshot, so rollback restores them). */
  variables: Record<string, string>;
  /** Which of `variables` were sealed: usable by the app, never shown, redacted from logs. */
  sealedNames: string[];
  source: DeploymentSource;
  /** Deployments with the same key (commit, root directory, build settings) share one build. */
  buildKey: string | null;
}

export interface VariableEntry {
  name: string;
  value: string;
  sealed: boolean;
}
