import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh temp dir for one test; remove it with the returned cleanup. */
export function makeTmpDir(prefix = 'berth-test-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Kills a process group (or a single pid) and ignores "already gone". */
export function killGroup(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}
