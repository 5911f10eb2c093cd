/**
 * Config as code: reads a service's railway.toml / railway.json / berth.toml and resolves it, with
 * `[environments.<name>]` overrides and config variables, into the ServiceConfig one deployment runs
 * with, plus where each value came from. Interface: loadServiceConfig, defaultServiceConfig (README.md).
 */
import { ConfigError } from '../errors.js';
import type { ServiceConfig } from '../model.js';
import { discoverConfigFile, readConfigDocument } from './discover.js';
import { parseDocument } from './document.js';
import { resolveLayers, type SourcedLayer } from './merge.js';
import { checkAutoscaling } from './scaling.js';
import { settingsLayer } from './settings.js';
import type { LoadConfigOptions, LoadedConfig } from './types.js';
import { variableLayers } from './variables.js';

export type { LoadConfigOptions, LoadedConfig } from './types.js';

/** Railway's documented defaults; a fresh object each call so callers may mutate it. */
export function defaultServiceConfig(): ServiceConfig {
  return {
    build: { builder: 'RAILPACK', buildCommand: null, watchPatterns: [], dockerfilePath: null },
    deploy: {
      startCommand: null,
      preDeployCommand: [],
      healthcheckPath: null,
      healthcheckTimeout: 300,
      restartPolicyType: 'ON_FAILURE',
      restartPolicyMaxRetries: 10,
      numReplicas: 1,
      cronSchedule: null,
      sleepApplication: false,
      sleepAfterSeconds: 600,
      overlapSeconds: 0,
      drainingSeconds: 0,
      workerStabilitySeconds: 3,
      singleton: false,
      cronTimeoutSeconds: 3600,
      memoryLimit: null,
      cpuLimit: null,
      pidsLimit: null,
      minReplicas: null,
      maxReplicas: null,
      targetCPUPercent: null,
      scaleUpWindowSeconds: 60,
      scaleDownWindowSeconds: 300,
    },
    edge: {
      rateLimit: null,
      rateLimitWindowSeconds: 60,
      maxBodySize: null,
      allowIps: [],
      denyIps: [],
      denyPaths: [],
    },
  };
}

/** Synchronous so it can run inside a deploy step without extra plumbing; throws ConfigError. */
export function loadServiceConfig(sourceDir: string, opts: LoadConfigOptions): LoadedConfig {
  const warnings: string[] = [];
  const source = discoverConfigFile(sourceDir, opts.configPath, warnings);
  const layers: SourcedLayer[] = [];
  if (source) {
    const { file } = source;
    const doc = parseDocument(readConfigDocument(source), { file, format: source.format, warnings });
    for (const environment of overrideBlocks(opts.environment, opts.previewOf ?? null)) {
      const layer = doc.environments.get(environment);
      if (layer) layers.push({ layer, origin: { source: 'override', file, environment } });
    }
    layers.push({ layer: doc.base, origin: { source: 'file', file } });
  }
  if (opts.settings && Object.keys(opts.settings).length > 0) {
    layers.push({ layer: settingsLayer(opts.settings), origin: { source: 'service settings' } });
  }
  layers.push(...variableLayers(opts.variables ?? {}));
  const { config, origins } = resolveLayers(defaultServiceConfig(), layers);
  if (opts.maxReplicas !== undefined) checkReplicaCap(config, origins, opts.maxReplicas);
  checkAutoscaling(config, origins, opts.maxReplicas);
  checkSleep(config, warnings);
  return { config, origins, warnings, file: source?.file ?? null };
}

/** numReplicas (or the sum of multiRegionConfig) above the server's cap fails the deployment before its build. */
function checkReplicaCap(config: ServiceConfig, origins: LoadedConfig['origins'], max: number): void {
  const n = config.deploy.numReplicas;
  if (n <= max) return;
  const origin = origins['deploy.numReplicas'];
  const where =
    origin?.variable ??
    origin?.file ??
    (origin?.source === 'service settings' ? 'service settings' : 'config');
  const key = origin?.environment
    ? `environments.${origin.environment}.deploy.numReplicas`
    : origin?.variable
      ? null
      : 'deploy.numReplicas';
  throw new ConfigError(
    where,
    key,
    `asks for ${n} replicas, more than this server runs for one deployment (${max}); lower it (multiRegionConfig replicas count together), or start the server with --max-replicas ${n}`,
  );
}

/**
 * A cron service has no replicas between runs, so sleepApplication has nothing to stop or wake. Railway accepts
 * the pair, so the file must not fail here: it is a warning.
 */
function checkSleep(config: ServiceConfig, warnings: string[]): void {
  if (!config.deploy.sleepApplication || !config.deploy.cronSchedule) return;
  warnings.push(
    'deploy.sleepApplication has no effect on a cron service (cronSchedule): it runs only on its schedule, with nothing in between to sleep',
  );
}

/** Override block names, highest priority first (railway-compat §1.4 for ephemeral environments). */
export function overrideBlocks(environment: string, previewOf: string | null): string[] {
  return previewOf ? [environment, 'pr', previewOf] : [environment];
}
