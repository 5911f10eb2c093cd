/**
 * `berth db config set KEY=VALUE`: which settings a user may change, and what applying one takes — from
 * pg_settings' context (postmaster: a restart; the rest: a reload). Pure.
 */

/** Set by Berth on the command line (where it listens, where its data is): never through ALTER SYSTEM. */
const OWNED_BY_BERTH = new Set([
  'listen_addresses',
  'port',
  'unix_socket_directories',
  'data_directory',
  'hba_file',
  'ident_file',
  'config_file',
  // Point-in-time restore's archiving (argv.ts walArchivingArgs).
  'archive_mode',
  'archive_library',
  'archive_command',
  'basic_archive.archive_directory',
]);

const NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

/** A sentence saying why KEY cannot be set, or null when it may be. */
export function refusedSetting(key: string): string | null {
  if (!NAME.test(key))
    return `"${key}" is not a PostgreSQL setting name (letters, digits and _, e.g. work_mem)`;
  if (OWNED_BY_BERTH.has(key.toLowerCase())) {
    return `${key} is set by Berth (where the database listens and keeps its data) and cannot be changed`;
  }
  return null;
}

export type ApplyAction = 'reload' | 'restart';

/** What makes a new value take effect, from pg_settings.context; null when it cannot be changed at all. */
export function applyActionFor(context: string): ApplyAction | null {
  if (context === 'internal') return null;
  return context === 'postmaster' ? 'restart' : 'reload';
}

/** Parses KEY=VALUE (the value may contain '='); null when there is no '='. */
export function parseAssignment(text: string): { key: string; value: string } | null {
  const eq = text.indexOf('=');
  if (eq <= 0) return null;
  return { key: text.slice(0, eq).trim(), value: text.slice(eq + 1) };
}
