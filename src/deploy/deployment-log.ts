import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { DeploymentStatus } from '../core/model.js';

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

/**
 * One NDJSON file per deployment holding its build log, deploy log, replica output and status
 * changes in order, plus live subscribers for `logs -f` and `berth up`.
 */
export class DeploymentLogs {
  private readonly events = new EventEmitter();
  private redact: (deploymentId: string, text: string) => string = (_id, text) => text;

  constructor(private readonly fileOf: (deploymentId: string) => string) {
    this.events.setMaxListeners(0);
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
    const file = this.fileOf(deploymentId);
    try {
      fs.appendFileSync(file, `${JSON.stringify(entry)}\n`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.appendFileSync(file, `${JSON.stringify(entry)}\n`);
    }
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

  read(deploymentId: string): LogEntry[] {
    let text: string;
    try {
      text = fs.readFileSync(this.fileOf(deploymentId), 'utf8');
    } catch {
      return [];
    }
    const out: LogEntry[] = [];
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line) as LogEntry);
      } catch {
        // a torn last line after a crash; skip it
      }
    }
    return out;
  }

  /** The last `n` log lines (any phase), for failure reasons. */
  lastLines(deploymentId: string, n: number, filter: (l: LogLine) => boolean = () => true): string[] {
    return this.read(deploymentId)
      .filter((e): e is LogLine => e.type === 'log' && filter(e))
      .slice(-n)
      .map((e) => e.message);
  }

  subscribe(deploymentId: string, fn: (e: LogEntry) => void): () => void {
    this.events.on(deploymentId, fn);
    return () => this.events.off(deploymentId, fn);
  }
}
