import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { delay } from '../lib/wait.js';
import { groupAlive, isLiveStat, readProcStat, signalGroup } from './proc.js';
import { sandboxArgv, sandboxEnv } from './sandbox.js';
import type { ExitInfo, ProcessHandle, ProcessSpec } from './types.js';

/** How often an adopted process (not our child) is checked for exit. */
const ADOPTED_POLL_MS = 250;
/** How often stop() checks whether the group is gone. */
const STOP_POLL_MS = 25;
/** How long stop() waits for the group to vanish after SIGKILL before giving up (D-state processes). */
const AFTER_KILL_WAIT_MS = 10_000;

interface OwnChild {
  startTime: string;
  child: ChildProcess;
  /** Set once the 'exit' event arrived. */
  exit: ExitInfo | null;
  exited: Promise<ExitInfo>;
}

/**
 * Runs replicas as host processes: `sh -c <command>` in a new session, output appended to files,
 * unref'd so the daemon can exit (or be killed) while apps keep running. A handle (pid + start time)
 * is enough for a later daemon to find, watch and stop the process again.
 */
export class ProcessDriver {
  /** Children started by this instance, by pid. Bounded by pid_max: a reused pid replaces its entry. */
  private readonly own = new Map<number, OwnChild>();

  start(spec: ProcessSpec): ProcessHandle {
    let cwdOk = false;
    try {
      cwdOk = fs.statSync(spec.cwd).isDirectory();
    } catch {
      cwdOk = false;
    }
    if (!cwdOk) throw new Error(`cannot start ${spec.id}: working directory ${spec.cwd} does not exist`);

    fs.mkdirSync(path.dirname(spec.stdoutPath), { recursive: true });
    fs.mkdirSync(path.dirname(spec.stderrPath), { recursive: true });
    const out = fs.openSync(spec.stdoutPath, 'a');
    let err: number;
    try {
      err = fs.openSync(spec.stderrPath, 'a');
    } catch (e) {
      fs.closeSync(out);
      throw e;
    }

    let child: ChildProcess;
    try {
      // The user's command is the only shell string; it is one argv element, never interpolated.
      // Sandboxed, bwrap is the process group leader whose pid and start time the handle records.
      const shell = ['/bin/sh', '-c', spec.command];
      const argv = spec.sandbox ? sandboxArgv(spec.sandbox, spec.cwd, shell) : shell;
      child = spawn(argv[0], argv.slice(1), {
        cwd: spec.sandbox ? '/' : spec.cwd,
        env: spec.sandbox ? sandboxEnv(spec.env, spec.sandbox) : spec.env,
        detached: true,
        stdio: ['ignore', out, err],
      });
    } finally {
      // The child holds its own copies; the daemon keeps none, so its death cannot SIGPIPE the app.
      fs.closeSync(out);
      fs.closeSync(err);
    }

    const pid = child.pid;
    if (pid === undefined) {
      // spawn() reports failures asynchronously; swallow that event, the throw below says it.
      child.on('error', () => {});
      throw new Error(`cannot start ${spec.id}: spawning ${spec.sandbox ? 'bwrap' : '/bin/sh'} failed`);
    }
    child.on('error', () => {
      /* after a successful spawn only kill() can error; nothing to do */
    });

    // The child has forked, and not been reaped (that needs the event loop), so its stat exists.
    const startTime = readProcStat(pid)?.startTime;
    if (!startTime) {
      signalGroup(pid, 'SIGKILL');
      throw new Error(`cannot start ${spec.id}: /proc/${pid}/stat is unreadable`);
    }

    let resolveExit: (info: ExitInfo) => void = () => {};
    const entry: OwnChild = {
      startTime,
      child,
      exit: null,
      exited: new Promise<ExitInfo>((resolve) => {
        resolveExit = resolve;
      }),
    };
    child.once('exit', (code, signal) => {
      entry.exit = { code, signal };
      resolveExit(entry.exit);
    });
    child.unref();
    this.own.set(pid, entry);
    return { pid, startTime };
  }

  isAlive(h: ProcessHandle): boolean {
    const st = readProcStat(h.pid);
    return isLiveStat(st) && st.startTime === h.startTime;
  }

  watch(h: ProcessHandle, onExit: (info: ExitInfo) => void): () => void {
    let done = false;
    let cleanup: () => void = () => {};
    const fire = (info: ExitInfo) => {
      if (done) return;
      done = true;
      cleanup();
      onExit(info);
    };

    const own = this.ownChild(h);
    if (own) {
      if (own.exit) {
        const info = own.exit;
        const t = setImmediate(() => fire(info));
        cleanup = () => clearImmediate(t);
      } else {
        const listener = (code: number | null, signal: NodeJS.Signals | null) => fire({ code, signal });
        own.child.once('exit', listener);
        cleanup = () => own.child.off('exit', listener);
      }
    } else {
      // Adopted: not our child, so no exit status; poll. The first check is immediate.
      let timer: NodeJS.Timeout | null = null;
      const check = () => {
        timer = null;
        if (done) return;
        if (!this.isAlive(h)) return fire({ code: null, signal: null });
        timer = setTimeout(check, ADOPTED_POLL_MS);
        timer.unref();
      };
      timer = setTimeout(check, 0);
      timer.unref();
      cleanup = () => {
        if (timer) clearTimeout(timer);
        timer = null;
      };
    }

    return () => {
      done = true;
      cleanup();
    };
  }

  async stop(h: ProcessHandle, graceMs: number): Promise<ExitInfo | null> {
    const own = this.ownChild(h);
    if (!this.ownsGroup(h) || !groupAlive(h.pid)) {
      // Nothing left to stop. Our own child may have exited without its 'exit' event handled yet.
      if (!own) return null;
      return own.exit ?? (await withTimeout(own.exited, 1000));
    }

    signalGroup(h.pid, 'SIGTERM');
    if (graceMs > 0) await waitGroupGone(h.pid, graceMs);
    if (groupAlive(h.pid)) {
      signalGroup(h.pid, 'SIGKILL');
      await waitGroupGone(h.pid, AFTER_KILL_WAIT_MS);
    }

    if (!own) return { code: null, signal: null };
    return own.exit ?? (await withTimeout(own.exited, 1000)) ?? { code: null, signal: 'SIGKILL' };
  }

  kill(h: ProcessHandle): void {
    if (this.ownsGroup(h)) signalGroup(h.pid, 'SIGKILL');
  }

  private ownChild(h: ProcessHandle): OwnChild | undefined {
    const entry = this.own.get(h.pid);
    return entry && entry.startTime === h.startTime ? entry : undefined;
  }

  /**
   * May we signal group -pid? Yes when the leader is the process in the handle (alive or zombie),
   * or when no process has that pid any more: Linux does not hand out a pid again while a group
   * with that id still has members, so surviving members are ours. No when the pid was reused.
   */
  private ownsGroup(h: ProcessHandle): boolean {
    const st = readProcStat(h.pid);
    return st === null || st.startTime === h.startTime;
  }
}

async function waitGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!groupAlive(pgid)) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await delay(Math.min(STOP_POLL_MS, left));
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | null> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(null), ms);
    p.then((v) => {
      clearTimeout(t);
      resolve(v);
    });
  });
}
