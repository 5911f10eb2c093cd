/** A point-in-time restored cluster after its first start: wait for its promotion, then drop the recovery settings. */

import { RECOVERY_SETTINGS } from '../../backup/pitr-argv.js';
import { delay } from '../../lib/wait.js';
import type { PsqlTarget } from './argv.js';
import type { PostgresBinaries } from './binaries.js';
import { runPsql } from './psql.js';

type Target = PsqlTarget & { password: string };

/** Resolves once recovery ended and the server promoted itself; rejects after timeoutMs. */
export async function waitPromoted(pg: PostgresBinaries, c: Target, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const inRecovery = (
      await runPsql(pg, { ...c, database: 'postgres' }, 'SELECT pg_is_in_recovery()\n')
    ).trim();
    if (inRecovery === 'f') return;
    if (Date.now() > deadline) {
      throw new Error(
        `the restored database was still replaying WAL after ${Math.round(timeoutMs / 60_000)} minutes`,
      );
    }
    await delay(200);
  }
}

/** ALTER SYSTEM RESET of what the restore added to postgresql.auto.conf, then a reload. */
export async function resetRecoverySettings(pg: PostgresBinaries, c: Target): Promise<void> {
  const sql = `${RECOVERY_SETTINGS.map((k) => `ALTER SYSTEM RESET ${k};`).join('\n')}\nSELECT pg_reload_conf();\n`;
  await runPsql(pg, { ...c, database: 'postgres' }, sql);
}
