import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { DeploymentStatus } from '../core/model.js';
import { linesBackwards } from '../lib/lines-backwards.js';

export type LogStream = 'build' | 'stdout' | 'stderr' | 'system';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogLine {
  type: 'log';
  time: string;
  phase: 'build' | 'deploy';
  stream: LogStream;
  level: LogLevel;
  message: string;
  replica?: number;
  attributes?: Record<string, unknown>;
}

export interface StatusLine {
  type: 'status';
  time: string;
  status: DeploymentStatus;
  reason: string | null;
}

export type LogEntry = LogLine | StatusLine;

/** Default size at which a deployment's log file is rotated (it keeps one rotated file besides). */
export const DEFAULT_LOG_FILE_BYTES = 10 * 1024 * 1024;

/** The files of one deployment's log, newest first: the current one, then the rotated one. */
export function deploymentLogFiles(current: string): [string, string] {
  return [current, current.replace(/(\.ndjson)?$/, '.1$1')];
}

export interface DeploymentLogOptions {
  /** Size at which the current file is rotated; a deployment keeps at most about twice this. */
  maxFileBytes?: number;
}

/**
 * One NDJSON log per deployment holding its build log, deploy log, replica output and status changes in
 * order, plus live subscribers for `logs -f` and `berth up`. A file reaching maxFileBytes becomes
 * `<id>.1.ndjson` (replacing the previous one), so an app printing without end keeps its newest lines and
 * a bounded amount of disk. Tails are read backwards from the end: `logs -n 10` reads a few blocks.
 */
export class DeploymentLogs {
  private readonly events = new EventEmitter();
  private redact: (deploymentId: string, text: string) => string = (_id, text) => text;
  private readonly maxFileBytes: number;
  /** Size of each deployment's current file as this process last wrote it (stat once, then counted). */
  private readonly sizes = new Map<string, number>();

  constructor(
    private readonly fileOf: (deploymentId: string) => string,
    opts: DeploymentLogOptions = {},
  ) {
    this.events.setMaxListeners(0);
    this.maxFileBytes = Math.max(1024, opts.maxFileBytes ?? DEFAULT_LOG_FILE_BYTES);
  }

  /** Every file this deployment's log may occupy (to remove it). */
  files(deploymentId: string): string[] {
    return deploymentLogFiles(this.fileOf(deploymentId));
  }

  /** Secrets are replaced before a line is stored or streamed, so no reader ever sees them. */
  setRedactor(fn: (deploymentId: string, text: string) => string): void {
    this.redact = fn;
  }

  append(deploymentId: string, entry: LogEntry): void {
    if (entry.type === 'log') {
      entry.message = this.redact(deploymentId, entry.message);
      if (entry.attributes) {
        entry.attributes = JSON.parse(this.redact(deploymentId, JSON.stringify(entry.attributes))) as Record<
          string,
          unknown
        >;
      }
    } else if (entry.reason) {
      entry.reason = this.redact(deploymentId, entry.reason);
    }
    const [file, rotated] = this.files(deploymentId);
    const line = `${JSON.stringify(entry)}\n`;
    const bytes = Buffer.byteLength(line);
    let size = this.sizes.get(deploymentId) ?? sizeOf(file);
    if (size > 0 && size + bytes > this.maxFileBytes) {
      try {
        fs.renameSync(file, rotated);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      size = 0;
    }
    try {
      fs.appendFileSync(file, line);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.appendFileSync(file, line);
    }
    this.sizes.set(deploymentId, size + bytes);
    this.events.emit(deploymentId, entry);
  }
  log(
    deploymentId: string,
    phase: LogLine['phase'],
    stream: LogStream,
    message: string,
    extra: Partial<Pick<LogLine, 'level' | 'replica' | 'attributes'>> = {},
  ): void {
    this.append(deploymentId, {
      type: 'log',
      time: new Date().toISOString(),
      phase,
      stream,
      level: extra.level ?? (stream === 'stderr' ? 'error' : 'info'),
      message,
      ...(extra.replica === undefined ? {} : { replica: extra.replica }),
      ...(extra.attributes ? { attributes: extra.attributes } : {}),
    });
  }

  status(deploymentId: string, status: DeploymentStatus, reason: string | null): void {
    this.append(deploymentId, { type: 'status', time: new Date().toISOString(), status, reason });
  }

  /**
   * The newest entries that `keep` accepts as stored (NDJSON lines), oldest first, stopping before the
   * `lines + 1`-th log line counted back from the end (status entries between them are included). Reads
   * backwards from the end of the current file, then the rotated one; holds only the lines it returns.
   */
  tailLines(deploymentId: string, lines: number, keep: (e: LogEntry) => boolean = () => true): string[] {
    const out: string[] = [];
    let logLines = 0;
    for (const file of this.files(deploymentId)) {
      for (const raw of linesBackwards(file)) {
        let e: LogEntry;
        try {
          e = JSON.parse(raw) as LogEntry;
        } catch {
          continue; // a torn line after a crash
        }
        if (!keep(e)) continue;
        if (e.type === 'log') {
          if (logLines === lines) return out.reverse();
          logLines++;
        }
        out.push(raw);
      }
    }
    return out.reverse();
  }

  /** tailLines, parsed. */
  tail(deploymentId: string, lines: number, keep: (e: LogEntry) => boolean = () => true): LogEntry[] {
    return this.tailLines(deploymentId, lines, keep).map((raw) => JSON.parse(raw) as LogEntry);
  }

  /** The last `n` log lines (any phase), for failure reasons. */
  lastLines(deploymentId: string, n: number, filter: (l: LogLine) => boolean = () => true): string[] {
    return this.tail(deploymentId, n, (e) => e.type === 'log' && filter(e)).map((e) =>
      e.type === 'log' ? e.message : '',
    );
  }

  subscribe(deploymentId: string, fn: (e: LogEntry) => void): () => void {
    this.events.on(deploymentId, fn);
    return () => this.events.off(deploymentId, fn);
  }
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}
