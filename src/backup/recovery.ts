/**
 * At daemon start: a backup a previous daemon left `running` can never finish. It is failed with the reason,
 * its unverified archive removed, and what interrupted puts left in the target is swept.
 */
import type { Store } from '../store/store.js';
import type { BackupTarget } from './target.js';

export const INTERRUPTED_REASON = 'The daemon stopped while this backup ran, so it never finished.';

export async function recoverInterruptedBackups(
  store: Store,
  target: BackupTarget,
): Promise<{ failed: number; swept: number }> {
  const interrupted = store.backups.listRunning();
  store.backups.failRunning(INTERRUPTED_REASON);
  for (const b of interrupted) await target.delete(b.key).catch(() => {});
  const swept = await target.sweep();
  return { failed: interrupted.length, swept };
}
