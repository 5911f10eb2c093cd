/** Finds the host's PostgreSQL client tools (Debian's postgresql-client-N) for backups and restores. */
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import type { PgTools } from './pg-argv.js';

const TOOLS = ['pg_dump', 'pg_restore', 'psql'];

/**
 * The newest `<root>/N/bin` holding pg_dump, pg_restore and psql. The newest, because pg_dump refuses a
 * server of a newer major version than its own.
 */
export function findPgTools(root = '/usr/lib/postgresql'): PgTools {
  let versions: number[] = [];
  try {
    versions = fs
      .readdirSync(root)
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 0)
      .sort((a, b) => b - a);
  } catch {
    versions = [];
  }
  for (const v of versions) {
    const binDir = path.join(root, String(v), 'bin');
    if (TOOLS.every((t) => isExecutable(path.join(binDir, t)))) return { binDir };
  }
  throw new UserError(
    `PostgreSQL's client tools (pg_dump, pg_restore, psql) are not installed under ${root}; install the Debian package postgresql-client.`,
    { status: 503, code: 'pg_tools_missing' },
  );
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
