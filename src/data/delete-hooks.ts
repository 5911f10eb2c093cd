/**
 * What deleting a database service (or an environment or project holding one) does with its data: a final
 * backup first (the deletion is refused when it fails, unless skipped), the volume only with --delete-data.
 */
import fs from 'node:fs';
import type { EnvironmentHooks } from '../deploy/environment-hooks.js';
import type { ServiceHooks } from '../deploy/teardown.js';
import type { DataService } from '../store/data-services.js';
import type { Store } from '../store/store.js';
import type { DatabaseBackups } from './backups.js';
import type { DataServiceManager } from './data-services.js';

export function databaseServiceHooks(
  store: Store,
  data: DataServiceManager,
  backups: DatabaseBackups,
): ServiceHooks {
  /** Volumes of the service's databases, read before its rows go. */
  const volumes = new Map<string, string[]>();
  /** Its databases, recorded as deleted once the deletion went through. */
  const deleting = new Map<string, DataService[]>();
  return {
    name: 'database data',
    async beforeStop(event) {
      const { service, environments, notes } = event;
      if (service.kind === 'app') return;
      const present = environments.filter((e) => store.dataServices.find(service.id, e.id));
      const databases = present.flatMap((e) => store.dataServices.find(service.id, e.id) ?? []);
      volumes.set(
        service.id,
        databases.map((ds) => data.volumeOf(ds)),
      );
      deleting.set(service.id, databases);
      if (event.skipFinalBackup) {
        if (present.length > 0)
          notes.push(`No final backup of ${service.name} was taken (--skip-final-backup).`);
        return;
      }
      const final = await backups.finalBackups(service, present);
      notes.push(...final.notes);
      if (final.taken.length > 0)
        notes.push('`berth backup list --all -e ENV` lists them after the deletion.');
    },
    deleted(event) {
      const kept = volumes.get(event.service.id) ?? [];
      volumes.delete(event.service.id);
      for (const ds of deleting.get(event.service.id) ?? []) {
        const d = backups.recordDeleted(ds, event.service.name);
        if (store.backups.list(d).length > 0) {
          event.notes.push(
            `The backups of ${event.service.name} are kept ${d.keepDays} days (its retention), then pruned.`,
          );
        }
      }
      deleting.delete(event.service.id);
      for (const dir of kept) {
        if (event.deleteData) {
          fs.rmSync(dir, { recursive: true, force: true });
          event.notes.push(`Deleted the volume ${dir} (--delete-data).`);
        } else if (fs.existsSync(dir)) {
          event.notes.push(`The volume stays at ${dir}; delete it by hand, or pass --delete-data next time.`);
        }
      }
      backups.sync();
    },
  };
}

/** An environment's databases get their final backups before anything of it stops; their volumes stay. */
export function databaseEnvironmentHooks(
  store: Store,
  data: DataServiceManager,
  backups: DatabaseBackups,
): EnvironmentHooks {
  return {
    name: 'database final backups',
    async deleting({ project, environment, skipFinalBackup, notes }) {
      const databases = store.services
        .list(project.id)
        .filter((s) => s.kind !== 'app' && store.dataServices.find(s.id, environment.id));
      for (const service of databases) {
        const ds = store.dataServices.find(service.id, environment.id);
        if (ds) {
          notes?.push(`The volume of ${service.name} (${environment.name}) stays at ${data.volumeOf(ds)}.`);
          // Recorded before the rows go (a deletion that fails after this leaves a record the sweep ignores
          // while the database exists).
          backups.recordDeleted(ds, service.name);
        }
        // A preview goes when its branch or pull request does, unattended: its database (a copy) goes without one.
        if (skipFinalBackup || environment.kind === 'preview') {
          const why = skipFinalBackup ? '--skip-final-backup' : 'a preview environment';
          notes?.push(`No final backup of ${service.name} (${environment.name}) was taken (${why}).`);
          continue;
        }
        notes?.push(...(await backups.finalBackups(service, [environment])).notes);
      }
    },
    deleted() {
      backups.sync();
    },
  };
}
