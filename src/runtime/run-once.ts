import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { Program } from './driver.js';
import type { JobGroups } from './job-groups.js';
import type { Sandbox } from './sandbox.js';
import { spawnGroup } from './spawn-group.js';
import { stopGroup } from './stop-group.js';

/** `command`: the user's, run as `sh -c <command>` (one argv element); `argv`: a program of Berth's (initdb). */
export type RunOnceOptions = Program & RunOnceSettings;

interface RunOnceSettings {
  cwd: string;
  /** The complete environment (nothing from the daemon's own environment is added). */
  env: Record<string, string>;
  /** After this the whole group gets SIGTERM, then SIGKILL 2 s later. 0 or Infinity: no timeout. */
  timeoutMs: number;
  /** Aborting kills the whole group the same way. */
  signal?: AbortSignal;
  /** Where the group is recorded while it runs, so a daemon that crashed is cleaned up after. */
  jobs?: JobGroups;
  onLine: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Run inside this sandbox (runtime/sandbox.ts); absent: as the daemon's user. */
  sandbox?: Sandbox;
}

export interface RunOnceResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** True when opts.signal aborted the run (or was already aborted: then nothing ran). */
  aborted: boolean;
  /** The last 20 output lines, stdout and stderr interleaved in arrival order. */
  lastLines: string[];
}

const LAST_LINES = 20;
/** Grace between SIGTERM and SIGKILL on timeout or abort. */
const KILL_GRACE_MS = 2000;
/** After sh exits, how long leftover background processes may keep the pipes open. */
const CLOSE_GRACE_MS = 1000;
/** A "line" longer than this without a newline is emitted in pieces. */
const MAX_LINE_CHARS = 64 * 1024;

/**
 * Runs a one-off command (preDeployCommand) in its own process group and resolves when it is done.
 * Resolves for any exit status; rejects only when the command could not be started at all.
 * Processes the command left behind in its group are killed when it finishes.
 */
export function runOnce(opts: RunOnceOptions): Promise<RunOnceResult> {
  return new Promise<RunOnceResult>((resolve, reject) => {
    const lastLines: string[] = [];
    if (opts.signal?.aborted) {
      resolve({ code: null, signal: null, timedOut: false, aborted: true, lastLines });
      return;
    }
    let cwdOk = false;
    try {
      cwdOk = fs.statSync(opts.cwd).isDirectory();
    } catch {
      cwdOk = false;
    }
    if (!cwdOk) {
      reject(new Error(`cannot run command: working directory ${opts.cwd} does not exist`));
      return;
    }

    const child = spawnGroup({
      program: opts.command !== undefined ? { command: opts.command } : { argv: opts.argv },
      cwd: opts.cwd,
      env: opts.env,
      sandbox: opts.sandbox,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pid = child.pid;
    if (pid !== undefined) opts.jobs?.track(pid);

    let timedOut = false;
    let aborted = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let finished = false;
    let timeoutTimer: NodeJS.Timeout | null = null;
    let stopping: Promise<boolean> | null = null;
    let closeTimer: NodeJS.Timeout | null = null;

    const emit = (line: string, stream: 'stdout' | 'stderr') => {
      lastLines.push(line);
      if (lastLines.length > LAST_LINES) lastLines.shift();
      try {
        opts.onLine(line, stream);
      } catch {
        /* a failing consumer must not break the run */
      }
    };
    const outLines = splitLines(child.stdout, (l) => emit(l, 'stdout'));
    const errLines = splitLines(child.stderr, (l) => emit(l, 'stderr'));

    const terminate = () => {
      if (pid === undefined || exit) return;
      stopping ??= stopGroup(pid, { graceMs: KILL_GRACE_MS });
    };
    const onAbort = () => {
      aborted = true;
      terminate();
    };

    // Resolves only once nothing of the group is left: a process that closed its pipes may still be exiting.
    const finish = async () => {
      if (finished) return;
      finished = true;
      for (const t of [timeoutTimer, closeTimer]) if (t) clearTimeout(t);
      opts.signal?.removeEventListener('abort', onAbort);
      outLines.flush();
      errLines.flush();
      if (pid !== undefined) {
        await stopping;
        await stopGroup(pid, { graceMs: 0 });
        opts.jobs?.untrack(pid);
      }
      resolve({
        code: exit?.code ?? null,
        signal: exit?.signal ?? null,
        timedOut,
        aborted,
        lastLines,
      });
    };

    child.once('error', (err) => {
      if (exit || finished) return;
      // Spawn failed: no 'exit' will follow.
      finished = true;
      for (const t of [timeoutTimer, closeTimer]) if (t) clearTimeout(t);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(new Error(`cannot run command: ${err.message}`, { cause: err }));
    });
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      if (timeoutTimer) clearTimeout(timeoutTimer);
      // Background processes may still hold the pipes; do not wait on them for long.
      closeTimer = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        void finish();
      }, CLOSE_GRACE_MS);
    });
    child.once('close', () => void finish());

    if (pid === undefined) return; // the 'error' event follows
    if (opts.timeoutMs > 0 && Number.isFinite(opts.timeoutMs)) {
      timeoutTimer = setTimeout(() => {
        timedOut = true;
        terminate();
      }, opts.timeoutMs);
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Splits a byte stream into lines (without '\n' / '\r\n'); flush() emits an unterminated tail. */
function splitLines(stream: Readable | null, onLine: (line: string) => void): { flush: () => void } {
  const decoder = new StringDecoder('utf8');
  let buf = '';
  let flushed = false;
  const take = (text: string) => {
    buf += text;
    let start = 0;
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(start, nl);
      onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
      start = nl + 1;
      nl = buf.indexOf('\n', start);
    }
    if (start > 0) buf = buf.slice(start);
    while (buf.length > MAX_LINE_CHARS) {
      onLine(buf.slice(0, MAX_LINE_CHARS));
      buf = buf.slice(MAX_LINE_CHARS);
    }
  };
  stream?.on('data', (chunk: Buffer) => take(decoder.write(chunk)));
  stream?.on('error', () => {});
  return {
    flush: () => {
      if (flushed) return;
      flushed = true;
      take(decoder.end());
      if (buf.length > 0) onLine(buf.endsWith('\r') ? buf.slice(0, -1) : buf);
      buf = '';
    },
  };
}
