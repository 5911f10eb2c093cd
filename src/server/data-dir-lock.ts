/**
 * One control plane per data dir: a second `berth server` on the same dir would adopt, restart and reap the
 * same replicas and edge as the first. `<data-dir>/server.pid` holds the running server's pid; a file whose
 * pid is gone (a server killed with -9) or now names another program is stale and taken over.
 */

import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import { processAlive } from '../edge/edge-client.js';

export const SERVER_PID_FILE = 'server.pid';

/** True when pid is a live `berth server` (its command line has a `server` argument). */
function isServer(pid: number): boolean {
  if (!processAlive(pid)) return false;
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('server');
  } catch {
    return true; // no /proc: trust that the pid is alive
  }
}

function readPid(file: string): number | null {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Claims `root` for this process; returns the release (removes the file if it is still ours). Throws a
 * UserError naming the running server when another one holds it.
 */
export function claimDataDir(root: string): () => void {
  const file = path.join(root, SERVER_PID_FILE);
  // Two starters can both find a stale file: one of them writes it first, the other sees it live.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return () => {
        if (readPid(file) === process.pid) fs.rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readPid(file);
    if (holder !== null && holder !== process.pid && isServer(holder)) {
      throw new UserError(
        `Another berth server (pid ${holder}) already runs with the data dir ${root}; stop it first (or use another --data-dir).`,
      );
    }
    fs.rmSync(file, { force: true });
  }
  throw new UserError(`Could not claim the data dir ${root} (${file} keeps coming back); try again.`);
}
