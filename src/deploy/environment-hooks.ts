import type { Environment, Project } from '../core/model.js';

/** What a hook learns about an environment that was just created or is being deleted. */
export interface EnvironmentEvent {
  project: Project;
  environment: Environment;
  /** The environment it was copied from (duplicates and previews), else null. */
  base: Environment | null;
  /** Deleting: the user passed --skip-final-backup (databases go without their final backup). */
  skipFinalBackup?: boolean;
  /** Deleting: sentences hooks add for the answer (a final backup taken, where a volume stays). */
  notes?: string[];
}

/**
 * Extension point for whatever an environment owns beyond Berth's own rows and files (a database
 * branch, a bucket prefix…). `created` runs before the new environment's services deploy, so what it
 * makes is there when they start; throwing from it undoes the creation. `deleted` runs after the
 * environment's replicas stopped and its rows and files are gone; a failure there is logged, the
 * teardown still counts as done.
 */
export interface EnvironmentHooks {
  name: string;
  created?(event: EnvironmentEvent): Promise<void> | void;
  /** Before anything of the environment stops (a database's final backup); throwing refuses the deletion. */
  deleting?(event: EnvironmentEvent): Promise<void> | void;
  deleted?(event: EnvironmentEvent): Promise<void> | void;
}
