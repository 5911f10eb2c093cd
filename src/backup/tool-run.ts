/**
 * Runs one client tool (pg_dump, pg_restore, psql) by argv in its own process group, with its streams
 * exposed for piping; a cancel or a timeout stops the whole group, and `done` resolves once it is gone.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { JobGroups } from '../runtime/job-groups.js';
import { stopGroup } from '../runtime/stop-group.js';

export interface ToolOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Stopped by the AbortSignal (a cancel or the job's timeout). */
  aborted: boolean;
  /** Set when the program could not be started at all. */
  spawnError: string | null;
  /** The end of what it wrote to stderr. */
  stderr: string;
}

export interface ToolRun {
  pid: number | null;
  stdout: Readable | null;
  stdin: Writable | null;
  done: Promise<ToolOutcome>;
  /** Stops the group now (the reader of its output gave up). */
  stop(): void;
}

export interface ToolOptions {
  env: Record<string, string>;
  stdin?: 'pipe' | 'ignore';
  stdout?: 'pipe' | 'ignore';
  signal?: AbortSignal;
  /** Records the group while it runs, so a daemon that died is cleaned up after (runtime/job-groups.ts). */
  jobs?: JobGroups;
}

const STDERR_KEEP = 8 * 1024;
const KILL_GRACE_MS = 2000;

export function startTool(argv: string[], opts: ToolOptions): ToolRun {
  const child = spawn(argv[0], argv.slice(1), {
    env: opts.env,
    cwd: '/',
    detached: true,
    stdio: [opts.stdin ?? 'ignore', opts.stdout ?? 'ignore', 'pipe'],
  });
  const pid = child.pid ?? null;
  if (pid !== null) opts.jobs?.track(pid);
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-STDERR_KEEP);
  });
  // A reader or writer that gives up early (EPIPE) is handled by the caller through `done`.
  child.stdin?.on('error', () => {});
  child.stdout?.on('error', () => {});

  let aborted = false;
  let stopping: Promise<boolean> | null = null;
  const stop = () => {
    if (pid !== null) stopping ??= stopGroup(pid, { graceMs: KILL_GRACE_MS });
  };
  const onAbort = () => {
    aborted = true;
    stop();
  };

  const done = new Promise<ToolOutcome>((resolve) => {
    let spawnError: string | null = null;
    child.once('error', (err) => {
      spawnError = `cannot run ${path.basename(argv[0])}: ${err.message}`;
      if (pid === null) finish(null, null);
    });
    const finish = async (code: number | null, signal: NodeJS.Signals | null) => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (pid !== null) {
        await stopping;
        await stopGroup(pid, { graceMs: 0 });
        opts.jobs?.untrack(pid);
      }
      resolve({ code, signal, aborted, spawnError, stderr });
    };
    child.once('close', (code, signal) => void finish(code, signal));
  });

  if (opts.signal?.aborted) onAbort();
  else opts.signal?.addEventListener('abort', onAbort, { once: true });
  return { pid, stdout: child.stdout, stdin: child.stdin, done, stop };
}

/** The tool's own error line(s) as one sentence: "pg_dump: error: X" → "X." */
export function toolError(tool: string, outcome: ToolOutcome): string {
  if (outcome.spawnError) return `${outcome.spawnError}.`;
  const lines = outcome.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const errors = lines.filter((l) => /\b(error|fatal|FATAL|ERROR)\b/.test(l));
  const chosen = (errors.length > 0 ? errors : lines).slice(0, 2).map((l) =>
    l
      .replace(new RegExp(`^${tool}: (error|fatal): `), '')
      .replace(/^DETAIL: /, '')
      .replace(/\s+/g, ' '),
  );
  const text = chosen.join(' ').trim();
  const how = outcome.code !== null ? `exit status ${outcome.code}` : `signal ${outcome.signal}`;
  if (!text) return `${tool} stopped with ${how} and no message.`;
  return /[.!?]$/.test(text) ? text : `${text}.`;
}
