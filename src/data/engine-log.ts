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

/** An engine's log file larger than this is rotated (one older generation, `<file>.1`, is kept). */
export const ENGINE_LOG_MAX_BYTES = 32 * 1024 * 1024;

/** The last `limit` lines, oldest first (stderr, where PostgreSQL logs, then stdout; each after its `.1`). */
export function lastEngineLines(files: EngineLogFiles, limit: number): string[] {
  const out: string[] = [];
  for (const file of [files.stderr, files.stdout]) {
    const lines: string[] = [];
    for (const f of [file, rotatedName(file)]) {
      if (!fs.existsSync(f)) continue;
      for (const line of linesBackwards(f)) {
        if (lines.length >= limit) break;
        lines.push(line);
      }
    }
    out.push(...lines.reverse());
  }
  return out.slice(-limit);
}

/**
 * Keeps an engine's log file under maxBytes: a larger one is copied to `<file>.1` (replacing the older copy)
 * and emptied in place, logrotate's copytruncate — the engine holds the file with O_APPEND, so it writes on at
 * the new end and never needs a signal (a line written during the copy can be lost). Returns whether it did.
 */
export function rotateEngineLog(file: string, maxBytes = ENGINE_LOG_MAX_BYTES): boolean {
  try {
    if (fs.statSync(file).size <= maxBytes) return false;
    fs.copyFileSync(file, rotatedName(file));
    fs.truncateSync(file, 0);
    return true;
  } catch {
    return false; // gone, or a full disk: the next sweep tries again
  }
}

function rotatedName(file: string): string {
  return `${file}.1`;
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
