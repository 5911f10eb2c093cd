/**
 * Procfile parsing (Heroku format: `name: command` per line).
 * The start process is web > worker > the first other entry; `release` is never the start command.
 */
import { readAppText } from './app-files.js';

export interface ProcfileEntry {
  name: string;
  command: string;
}

export interface Procfile {
  entries: ProcfileEntry[];
  /** The entry Berth runs as the service's process, if any. */
  start: ProcfileEntry | null;
  /** The `release:` command, which Berth does not run as the start command. */
  release: string | null;
}

const LINE = /^([A-Za-z0-9_-]+)\s*:\s*(.+)$/;

export function parseProcfile(text: string): Procfile {
  const entries: ProcfileEntry[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const command = m[2].trim();
    if (command === '') continue;
    entries.push({ name: m[1], command });
  }
  const byName = (name: string) => entries.find((e) => e.name === name) ?? null;
  const start = byName('web') ?? byName('worker') ?? entries.find((e) => e.name !== 'release') ?? null;
  return { entries, start, release: byName('release')?.command ?? null };
}

/** The app's root Procfile, or null when there is none. */
export function readProcfile(appDir: string): Procfile | null {
  const text = readAppText(appDir, 'Procfile');
  return text === null ? null : parseProcfile(text);
}
