/** The volume lock every data service's engine runs under (pure argv, tested by exact arrays). */

/** flock's exit code when another engine already holds the volume's lock. */
export const LOCK_CONFLICT_EXIT = 73;

/**
 * argv run under an exclusive flock of lockFile, held for its whole life (the engine and its backends inherit
 * the descriptor). A second engine over the same volume fails at once with LOCK_CONFLICT_EXIT: the kernel's
 * guarantee, which holds across sandboxes (PostgreSQL's own postmaster.pid check does not: each sandbox has its
 * own pid and IPC namespace, where the pid in the file and the shared memory of another sandbox look stale).
 */
export function singletonArgv(flock: string, lockFile: string, argv: readonly string[]): string[] {
  return [flock, '--nonblock', '--conflict-exit-code', String(LOCK_CONFLICT_EXIT), lockFile, ...argv];
}
