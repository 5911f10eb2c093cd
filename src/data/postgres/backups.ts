/**
 * PostgreSQL's backups (data/backup-kind.ts): pg_dump archives; restore into a new database service, or in
 * place into a fresh database that then takes the live one's name.
 */
import { randomBytes } from 'node:crypto';
import type { PgConnection, PgTools } from '../../backup/pg-argv.js';
import { pgDumpMethod } from '../../backup/pg-method.js';
import { restorePgDump } from '../../backup/pg-restore.js';
import { errorMessage, UserError } from '../../core/errors.js';
import type { DataService } from '../../store/data-services.js';
import { type BackupKindDeps, backupReachable, type DatabaseBackupKind, stripDot } from '../backup-kind.js';
import type { DataServiceManager } from '../data-services.js';
import { requirePostgres } from './binaries.js';
import { createEmptyDatabase, dropDatabase, swapDatabases } from './swap.js';

export function postgresBackupKind(deps: BackupKindDeps, tools: () => PgTools): DatabaseBackupKind {
  const { store, data } = deps;
  const restore = (backupId: string, into: PgConnection) =>
    restorePgDump({
      store,
      target: deps.target,
      tools: tools(),
      backupId,
      into,
      workDir: deps.workDir,
      jobs: deps.jobs,
    });
  return {
    engine: 'postgres',
    archiveKind: 'pg_dump',
    wording: {
      entries: 'entries',
      inPlace: 'restored into a fresh database that then took its name, the old one dropped',
    },
    method: pgDumpMethod(tools),
    requireTools: () => void tools(),
    // A sleeping database is backed up too: pg_dump's connection wakes it (data/sleep.ts).
    connection: (ds) => (backupReachable(data.state(ds)) ? pgConnection(data, ds) : null),

    async restoreTo({ project, environment, name, backup }) {
      const { service, dataService } = await data.add(project, environment, name, 'postgres');
      try {
        const r = await restore(backup.id, pgConnection(data, dataService));
        return { service, dataService, entries: r.entries };
      } catch (err) {
        const removed = await deps.removeService(project, service).then(
          () => `${name} was removed again`,
          (e: unknown) => `${name} was left empty (removing it failed: ${errorMessage(e)})`,
        );
        throw new UserError(
          `${stripDot(errorMessage(err))}; ${removed}, and the source database was not touched.`,
          {
            status: err instanceof UserError ? err.status : 500,
            code: 'restore_failed',
          },
        );
      }
    },

    async restoreInPlace(ds: DataService, backup) {
      const pg = requirePostgres();
      const admin = { ...data.connection(ds), database: 'postgres' };
      const scratch = `${ds.database}_restore_${randomBytes(4).toString('hex')}`;
      return data.exclusive(ds, async () => {
        await createEmptyDatabase(pg, admin, scratch);
        let restored: number;
        try {
          const r = await restore(backup.id, { ...pgConnection(data, ds), database: scratch });
          restored = r.entries;
        } catch (err) {
          await dropDatabase(pg, admin, scratch).catch(() => undefined);
          throw new UserError(`${stripDot(errorMessage(err))}; the database is unchanged.`, {
            status: err instanceof UserError ? err.status : 500,
            code: 'restore_failed',
          });
        }
        try {
          await swapDatabases(pg, admin, ds.database, scratch);
        } catch (err) {
          await dropDatabase(pg, admin, scratch).catch(() => undefined);
          throw new UserError(
            `Swapping in the restored database failed (${stripDot(errorMessage(err))}); the database is unchanged.`,
            { status: 500, code: 'restore_failed' },
          );
        }
        return restored;
      });
    },
  };
}

function pgConnection(data: DataServiceManager, ds: DataService): PgConnection {
  const c = data.connection(ds);
  return { host: c.host, port: c.port, user: c.username, password: c.password, database: c.database };
}
