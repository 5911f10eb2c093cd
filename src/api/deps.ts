import type { DatabaseBackups } from '../data/backups.js';
import type { PointInTimeRecovery } from '../data/pitr.js';
import type { DeploymentLogs } from '../deploy/deployment-log.js';
import type { DeployEngine } from '../deploy/engine.js';
import type { DataPaths } from '../deploy/paths.js';
import type { EdgeDriver } from '../edge/driver.js';
import type { Store } from '../store/store.js';
import type { ApiLimits } from './limits.js';

/** What the API's routes work with; server.ts builds the app from it and every route module takes it. */
export interface ApiDeps {
  store: Store;
  engine: DeployEngine;
  /** The running edge driver: request metrics and access logs. */
  edge: EdgeDriver;
  logs: DeploymentLogs;
  /** Backups of the database services. */
  backups: DatabaseBackups;
  /** Point-in-time restore of the PostgreSQL services (WAL archive, base backups). */
  pitr: PointInTimeRecovery;
  paths: DataPaths;
  adminToken: string;
  version: string;
  /** Body sizes and upload timeouts; default: apiLimitsFromEnv(). */
  limits?: ApiLimits;
}
