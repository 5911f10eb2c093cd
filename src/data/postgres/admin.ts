/**
 * What `berth db` does inside a running cluster: read a setting's context, ALTER SYSTEM, reload, list
 * extensions. Values travel as psql variables (quoted by format(%I, %L) in SQL), never spliced into SQL text.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../lib/atomic-write.js';
import type { PsqlTarget } from './argv.js';
import type { PostgresBinaries } from './binaries.js';
import { runPsql } from './psql.js';

type Target = PsqlTarget & { password: string };

/** pg_settings.context of a setting, or null when PostgreSQL has no such setting. */
export async function settingContext(pg: PostgresBinaries, t: Target, key: string): Promise<string | null> {
  const out = await runPsql(pg, t, "SELECT context FROM pg_settings WHERE name = lower(:'k')\n", { k: key });
  const context = out.trim();
  return context === '' ? null : context;
}

export async function alterSystem(
  pg: PostgresBinaries,
  t: Target,
  key: string,
  value: string,
): Promise<void> {
  await runPsql(pg, t, "SELECT format('ALTER SYSTEM SET %I = %L', lower(:'k'), :'v')\\gexec\n", {
    k: key,
    v: value,
  });
}

export async function reloadConfig(pg: PostgresBinaries, t: Target): Promise<void> {
  await runPsql(pg, t, 'SELECT pg_reload_conf()\n');
}

/** The value in effect now (SHOW). */
export async function showSetting(pg: PostgresBinaries, t: Target, key: string): Promise<string> {
  const out = await runPsql(pg, t, "SELECT current_setting(lower(:'k'))\n", { k: key });
  return out.trim();
}

/**
 * Takes a setting out of postgresql.auto.conf while the server is down (a value it refused to start with).
 * Returns whether a line was removed.
 */
export function removeAutoConfSetting(pgdata: string, key: string): boolean {
  const file = path.join(pgdata, 'postgresql.auto.conf');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return false;
  }
  const lower = key.toLowerCase();
  const lines = text.split('\n');
  const kept = lines.filter((l) => l.split('=')[0].trim().toLowerCase() !== lower);
  if (kept.length === lines.length) return false;
  const st = fs.statSync(file);
  writeFileAtomic(file, kept.join('\n'), { owner: { uid: st.uid, gid: st.gid } });
  return true;
}

export interface AvailableExtension {
  name: string;
  defaultVersion: string;
  installedVersion: string | null;
  comment: string;
}

/** pg_available_extensions of the application database (installed = created in it). */
export async function availableExtensions(pg: PostgresBinaries, t: Target): Promise<AvailableExtension[]> {
  const out = await runPsql(
    pg,
    t,
    "SELECT name || chr(9) || coalesce(default_version, '') || chr(9) || coalesce(installed_version, '') || chr(9) || coalesce(comment, '') FROM pg_available_extensions ORDER BY name\n",
  );
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [name, defaultVersion, installed, ...comment] = l.split('\t');
      return { name, defaultVersion, installedVersion: installed || null, comment: comment.join('\t') };
    });
}
