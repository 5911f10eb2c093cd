/**
 * One engine's side of database backups (DatabaseBackups runs every engine through this): how its database is
 * reached for a backup, and how a verified archive becomes a new database or replaces a live one's data.
 */
import type { BackupMethod } from '../backup/method.js';
import type { BackupTarget } from '../backup/target.js';
import type { BackupKind, BackupRecord } from '../core/backup-model.js';
import type { Environment, Project, Service } from '../core/model.js';
import type { JobGroups } from '../runtime/job-groups.js';
import type { DataEngine, DataService } from '../store/data-services.js';
import type { Store } from '../store/store.js';
import type { DataServiceManager, DataServiceState } from './data-services.js';

/** What every engine's backups are wired to. */
export interface BackupKindDeps {
  store: Store;
  data: DataServiceManager;
  target: BackupTarget;
  workDir: string;
  jobs: JobGroups;
  /** Removes a service a failed `restore --to` created (without a final backup). */
  removeService: (project: Project, service: Service) => Promise<void>;
}

export interface RestoredService {
  service: Service;
  dataService: DataService;
  /** What the restore brought back: archive entries (PostgreSQL), keys (Redis). */
  entries: number;
}

/** How a kind's restores are told: what `entries` counts, and what an in-place restore did. */
export interface RestoreWording {
  entries: 'entries' | 'keys';
  inPlace: string;
}

export interface DatabaseBackupKind {
  engine: DataEngine;
  /** The manifest kind of its archives. */
  archiveKind: BackupKind;
  wording: RestoreWording;
  /** Makes and checks its archives; its tools are looked up at each use. */
  method: BackupMethod<unknown>;
  /** The host's tools, or a UserError naming the package to install. */
  requireTools(): void;
  /** How ds is reached now; null when it is not running. */
  connection(ds: DataService): unknown;
  /** A new database service `name` holding the backup; nothing is left behind when it fails. */
  restoreTo(o: {
    project: Project;
    environment: Environment;
    name: string;
    backup: BackupRecord;
  }): Promise<RestoredService>;
  /**
   * The backup replaces ds's data (the caller took a backup of the current state first); a failure leaves the
   * data as it was. Resolves with the entries restored.
   */
  restoreInPlace(ds: DataService, backup: BackupRecord): Promise<number>;
}

/** Whether the tools are there (a database is scheduled only then). */
export function hasTools(kind: DatabaseBackupKind): boolean {
  try {
    kind.requireTools();
    return true;
  } catch {
    return false;
  }
}

/** A message without its final full stop, to go on in the same sentence. */
export function stripDot(s: string): string {
  return s.trim().replace(/\.$/, '');
}

/** A scheduled backup runs against a running engine, or a sleeping one: its connection wakes it (data/sleep.ts). */
export function backupReachable(state: DataServiceState): boolean {
  return state === 'running' || state === 'sleeping';
}
