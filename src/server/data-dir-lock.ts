/**
 * One control plane per data dir: a second `berth server` on the same dir would adopt, restart and reap the
 * same replicas and edge as the first. `<data-dir>/server.pid` (DataPaths.serverPid) holds the running server's pid; a file whose
 * pid is gone (a server killed with -9) or now names another program is stale and taken over.
 */

import fs from 'node:fs';
import { UserError } from '../core/errors.js';
import type { DataPaths } from '../deploy/paths.js';
import { processAlive, readPidFile } from '../lib/pid-file.js';

/** True when pid is a live `berth server` (its command line has a `server` argument). */
export function isServer(pid: number): boolean {
  if (!processAlive(pid)) return false;
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('server');
  } catch {
    return true; // no /proc: trust that the pid is alive
  }
}

/**
 * Claims the data dir for this process; returns the release (removes the file if it is still ours). Throws a
 * UserError naming the running server when another one holds it.
 */
export function claimDataDir(paths: DataPaths): () => void {
  const file = paths.serverPid;
  // Two starters can both find a stale file: one of them writes it first, the other sees it live.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return () => {
        if (readPidFile(file) === process.pid) fs.rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readPidFile(file);
    if (holder !== null && holder !== process.pid && isServer(holder)) {
      throw new UserError(
        `Another berth server (pid ${holder}) already runs with the data dir ${paths.root}; stop it first (or use another --data-dir).`,
      );
    }
    fs.rmSync(file, { force: true });
  }
  throw new UserError(`Could not claim the data dir ${paths.root} (${file} keeps coming back); try again.`);
}
