/** PostgreSQL's logical backups as a BackupMethod: pg_dump archives (pg-backup.ts), checked by verify.ts. */
import type { BackupMethod } from './method.js';
import type { PgConnection, PgTools } from './pg-argv.js';
import { archiveKey, runPgDumpBackup } from './pg-backup.js';
import { verifyBackup } from './verify.js';

/** `tools` is asked at each run, so a host that gains or loses the client tools is seen without a restart. */
export function pgDumpMethod(tools: () => PgTools): BackupMethod<PgConnection> {
  return {
    kind: 'pg_dump',
    archiveKey,
    run: (o) => runPgDumpBackup({ ...o, tools: tools() }),
    verify: (o) => verifyBackup({ ...o, tools: tools() }),
  };
}
