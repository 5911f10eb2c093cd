/**
 * At daemon start: a backup a previous daemon left `running` can never finish. It is failed with the reason,
 * its unverified archive removed, and what interrupted runs left behind (temp files and multipart uploads in
 * the target, passfiles and fetched archives in the work dir) is removed.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Store } from '../store/store.js';
import type { BackupTarget } from './target.js';
import { WORK_DIR_PREFIXES } from './work-dir.js';

export const INTERRUPTED_REASON = 'The daemon stopped while this backup ran, so it never finished.';

/**
 * `workDir` is the daemon's own work dir for backups (give every run the same one, e.g.
 * `<data-dir>/backup-work`), never a shared temp dir: another daemon's runs may be in flight there.
 */
export async function recoverInterruptedBackups(
  store: Store,
  target: BackupTarget,
  workDir: string,
): Promise<{ failed: number; swept: number; workLeftovers: number }> {
  const interrupted = store.backups.listRunning();
  store.backups.failRunning(INTERRUPTED_REASON);
  for (const b of interrupted) await target.delete(b.key).catch(() => {});
  const swept = await target.sweep();
  let workLeftovers = 0;
  let names: string[] = [];
  try {
    names = fs.readdirSync(workDir);
  } catch {
    names = [];
  }
  for (const name of names) {
    if (!WORK_DIR_PREFIXES.some((p) => name.startsWith(p))) continue;
    fs.rmSync(path.join(workDir, name), { recursive: true, force: true });
    workLeftovers++;
  }
  return { failed: interrupted.length, swept, workLeftovers };
}
