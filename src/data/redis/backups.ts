/**
 * Redis's backups (data/backup-kind.ts): RDB snapshots. A restore fetches the snapshot into a private file and
 * checks it (size, SHA-256, redis-check-rdb) before any service is touched; the snapshot is then laid out in
 * the volume (restore-files.ts) of a new service, or of the live one while it is stopped, its data set aside
 * until the restored server answers (and put back if it does not).
 */
import fs from 'node:fs';
import path from 'node:path';
import { findRedisTools, type RedisConnection } from '../../backup/redis-argv.js';
import { redisRdbMethod } from '../../backup/redis-backup.js';
import { checkStoredRdb } from '../../backup/redis-check.js';
import { BackupObjectMissing } from '../../backup/target.js';
import { sentence } from '../../backup/text.js';
import { workDirOf } from '../../backup/work-dir.js';
import type { BackupRecord } from '../../core/backup-model.js';
import { errorMessage, UserError } from '../../core/errors.js';
import type { DataService } from '../../store/data-services.js';
import { type BackupKindDeps, backupReachable, type DatabaseBackupKind, stripDot } from '../backup-kind.js';
import { generatePassword } from '../password.js';
import { requireRedis } from './binaries.js';
import { placeSnapshot, putBack, setAside } from './restore-files.js';

export function redisBackupKind(deps: BackupKindDeps): DatabaseBackupKind {
  const { store, data } = deps;

  /** The snapshot, fetched into a private dir and checked; `use` gets its path and key count. */
  const withCheckedSnapshot = async <T>(
    backup: BackupRecord,
    use: (file: string, keys: number) => Promise<T>,
  ): Promise<T> => {
    if (backup.status !== 'verified' || backup.sizeBytes === null || backup.sha256 === null) {
      throw new UserError(
        `Backup ${backup.id} is not verified (${backup.error ?? 'it is still being written'}); restore a verified one from \`berth backup list\`.`,
        { status: 409, code: 'backup_not_verified' },
      );
    }
    const dir = fs.mkdtempSync(path.join(workDirOf(deps.workDir), 'berth-rdb-'));
    try {
      const file = path.join(dir, 'restore.rdb');
      const check = await checkStoredRdb({
        target: deps.target,
        key: backup.key,
        expected: { sizeBytes: backup.sizeBytes, sha256: backup.sha256 },
        tools: findRedisTools(),
        file,
        jobs: deps.jobs,
      }).catch((err: unknown) => {
        if (err instanceof BackupObjectMissing) store.backups.markFailed(backup.id, err.message);
        throw new UserError(
          `Backup ${backup.id} could not be fetched, so nothing was restored: ${sentence(errorMessage(err))}`,
          { status: 502, code: 'restore_failed' },
        );
      });
      if (!check.ok) {
        const problem = check.reason ?? 'The snapshot failed its check.';
        store.backups.markFailed(backup.id, problem);
        throw new UserError(`Backup ${backup.id} failed its check, so nothing was restored: ${problem}`, {
          status: 409,
          code: 'backup_not_verified',
        });
      }
      return await use(file, check.keys ?? 0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };

  return {
    engine: 'redis',
    archiveKind: 'redis_rdb',
    wording: {
      entries: 'keys',
      inPlace: 'Redis was stopped (saving first), its data set aside and the snapshot loaded in its place',
    },
    method: redisRdbMethod(findRedisTools),
    requireTools: () => void findRedisTools(),
    connection: (ds): RedisConnection | null => {
      if (!backupReachable(data.state(ds))) return null; // redis-cli's connection wakes a sleeping one
      const c = data.connection(ds);
      return { host: c.host, port: c.port, user: c.username, password: c.password };
    },

    restoreTo: ({ project, environment, name, backup }) =>
      withCheckedSnapshot(backup, async (file, keys) => {
        const major = Number(requireRedis().version);
        // A failed first start (a snapshot this server cannot load) removes the new service again (data.add).
        const made = await data
          .add(project, environment, name, 'redis', {
            username: 'default',
            database: '0',
            password: generatePassword(),
            initialise: async ({ volume, owner }) => placeSnapshot(volume, file, major, owner),
          })
          .catch((err: unknown) => {
            throw new UserError(
              `${stripDot(errorMessage(err))}; ${name} was not created, and the source database was not touched.`,
              { status: err instanceof UserError ? err.status : 500, code: 'restore_failed' },
            );
          });
        return { ...made, entries: keys };
      }),

    restoreInPlace: (ds: DataService, backup) =>
      withCheckedSnapshot(backup, (file, keys) =>
        data.exclusive(ds, async (ops) => {
          const major = Number(requireRedis().version);
          const volume = data.volumeOf(ds);
          const st = fs.statSync(volume);
          const owner = process.getuid?.() === 0 ? { uid: st.uid, gid: st.gid } : null;
          const aside = path.join(volume, `restore-previous-${backup.id.slice(0, 8)}`);
          // SIGTERM is Redis's SHUTDOWN: its current data is saved, then set aside whole.
          await ops.stop();
          fs.rmSync(aside, { recursive: true, force: true });
          setAside(volume, aside);
          try {
            placeSnapshot(volume, file, major, owner);
            await ops.start();
          } catch (err) {
            await ops.stop().catch(() => undefined);
            putBack(volume, aside);
            const back = await ops.start().then(
              () => 'its data is as it was and it runs again',
              (e: unknown) =>
                `its data was put back but it did not start again: ${stripDot(errorMessage(e))}`,
            );
            throw new UserError(
              `Redis did not start with backup ${backup.id} (${stripDot(errorMessage(err))}); ${back}.`,
              { status: 500, code: 'restore_failed' },
            );
          }
          fs.rmSync(aside, { recursive: true, force: true });
          return keys;
        }),
      ),
  };
}
