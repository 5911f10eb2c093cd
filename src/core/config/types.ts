import type { ServiceConfig, ServiceSettings, ValueOrigin } from '../model.js';

export interface LoadConfigOptions {
  /** Environment name, selects `[environments.<name>]` overrides. */
  environment: string;
  /**
   * For an ephemeral (preview) environment, the environment it was copied from: overrides then apply
   * in Railway's order `[environments.<name>]`, `[environments.pr]`, `[environments.<base>]`.
   */
  previewOf?: string | null;
  /**
   * Explicit config file path, relative to the source root (Railway's "config path"; a leading `/`
   * means the source root too). Without it: railway.toml, railway.json, berth.toml in that order.
   */
  configPath?: string;
  /** `berth service update` settings of the service in this environment: below the file, above variables. */
  settings?: ServiceSettings;
  /** Service variables; RAILWAY_DEPLOYMENT_OVERLAP_SECONDS etc. act as settings below the file. */
  variables?: Record<string, string>;
  /** Most replicas this server runs for one deployment (`--max-replicas`); more is a ConfigError. */
  maxReplicas?: number;
}

export interface LoadedConfig {
  config: ServiceConfig;
  /** Dotted key ("deploy.healthcheckPath") → where its value came from. */
  origins: Record<string, ValueOrigin>;
  /** Unknown keys and other non-fatal notes, one sentence each. */
  warnings: string[];
  /** The file that was read, relative to the source root, or null when none exists. */
  file: string | null;
}
