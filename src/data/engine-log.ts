/**
 * A data service's log: its engine's own output files (`<data-dir>/instances/<workload>.{out,err}.log`) plus
 * Berth's lines about it (restarts), written in PostgreSQL's line format so both read as one log.
 */
import fs from 'node:fs';
import { linesBackwards } from '../lib/lines-backwards.js';

export interface EngineLogFiles {
  stdout: string;
  stderr: string;
}

/** The last `limit` lines, oldest first (stderr, where PostgreSQL logs, then stdout). */
export function lastEngineLines(files: EngineLogFiles, limit: number): string[] {
  const out: string[] = [];
  for (const file of [files.stderr, files.stdout]) {
    if (!fs.existsSync(file)) continue;
    const lines: string[] = [];
    for (const line of linesBackwards(file)) {
      if (lines.length >= limit) break;
      lines.push(line);
    }
    out.push(...lines.reverse());
  }
  return out.slice(-limit);
}

/** Appends a line of Berth's (`2026-12-06 22:36:33.029 UTC [berth] …`); a failure to write is ignored. */
export function noteInEngineLog(files: EngineLogFiles, message: string, now = new Date()): void {
  const t = now.toISOString().replace('T', ' ').replace('Z', ' UTC');
  try {
    fs.appendFileSync(files.stderr, `${t} [berth] ${message}\n`);
  } catch {
    /* the log is for people; a full disk must not stop a restart */
  }
}

/** The files' current sizes: where following them (after an adoption) starts. */
export function logEnds(files: EngineLogFiles): { stdout: number; stderr: number } {
  const size = (f: string) => {
    try {
      return fs.statSync(f).size;
    } catch {
      return 0;
    }
  };
  return { stdout: size(files.stdout), stderr: size(files.stderr) };
}
