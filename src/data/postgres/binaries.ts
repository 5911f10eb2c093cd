/**
 * Where the host's PostgreSQL is: Debian's `postgresql` package puts each major version's server and tools
 * in /usr/lib/postgresql/<major>/bin. Berth never downloads a server of its own.
 */
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../../core/errors.js';

export interface PostgresBinaries {
  /** Major version, e.g. "15". */
  version: string;
  bin: string;
  postgres: string;
  initdb: string;
  psql: string;
  pgIsready: string;
}

export const POSTGRES_PACKAGE_HINT =
  'PostgreSQL is not installed on the Berth server; install the Debian package postgresql (apt-get install postgresql) and try again.';

const REQUIRED = ['postgres', 'initdb', 'psql', 'pg_isready'] as const;

function executable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The newest major version under root (BERTH_POSTGRES_ROOT overrides /usr/lib/postgresql), or null. */
export function findPostgres(
  root = process.env.BERTH_POSTGRES_ROOT ?? '/usr/lib/postgresql',
): PostgresBinaries | null {
  let versions: string[];
  try {
    versions = fs.readdirSync(root).filter((v) => /^\d+$/.test(v));
  } catch {
    return null;
  }
  versions.sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const bin = path.join(root, version, 'bin');
    if (!REQUIRED.every((name) => executable(path.join(bin, name)))) continue;
    return {
      version,
      bin,
      postgres: path.join(bin, 'postgres'),
      initdb: path.join(bin, 'initdb'),
      psql: path.join(bin, 'psql'),
      pgIsready: path.join(bin, 'pg_isready'),
    };
  }
  return null;
}

/** The host's PostgreSQL, or a UserError naming the package to install. */
export function requirePostgres(): PostgresBinaries {
  const found = findPostgres();
  if (!found) throw new UserError(POSTGRES_PACKAGE_HINT, { status: 503, code: 'missing_binaries' });
  return found;
}
