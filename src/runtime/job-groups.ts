import fs from 'node:fs';
import path from 'node:path';
import { groupAlive, readProcStartTime, signalGroup } from './proc.js';

/**
 * The process groups of one-off jobs the daemon runs and waits for (build commands, preDeployCommands), one
 * file per group in a directory, named by the group's pid and holding its leader's start time.
 *
 * Why: a job runs detached in its own group so that a timeout or a cancel can kill all of it; so when the
 * daemon itself dies (`kill -9`, OOM), the job lives on with nobody waiting for it — a hung `npm install` or
 * `sleep`-ing migration would run forever. The next daemon fails the deployment it belonged to and calls
 * `killLeftovers()` first. A leader pid that now belongs to another process (same pid, other start time) is
 * left alone: Linux does not reuse a pid while a group of that id still has members, so that group is gone.
 */
export class JobGroups {
  constructor(private readonly dir: string) {}

  /** Records a job's group (pid = pgid: it was spawned detached) while it runs. */
  track(pid: number): void {
    const start = readProcStartTime(pid);
    if (start === null) return; // already gone
    try {
      fs.mkdirSync(this.dir, { recursive: true });
      fs.writeFileSync(this.file(pid), start);
    } catch {
      // Not fatal: the job runs; only a crash of the daemon during it would leave it unkilled.
    }
  }

  untrack(pid: number): void {
    fs.rmSync(this.file(pid), { force: true });
  }

  /** SIGKILLs the groups a previous daemon recorded and never untracked; returns how many were still there. */
  killLeftovers(): number {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return 0;
    }
    let killed = 0;
    for (const name of names) {
      const pid = Number(name);
      const file = path.join(this.dir, name);
      const recorded = readRecorded(file);
      if (Number.isInteger(pid) && pid > 1 && recorded !== null) {
        const now = readProcStartTime(pid);
        if (now === recorded || (now === null && groupAlive(pid))) {
          signalGroup(pid, 'SIGKILL');
          killed++;
        }
      }
      fs.rmSync(file, { force: true });
    }
    return killed;
  }

  private file(pid: number): string {
    return path.join(this.dir, String(pid));
  }
}

function readRecorded(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}
