import path from 'node:path';
import { UserError } from '../core/errors.js';

/** Checks and normalises a service's root directory: repo-relative, no `..`; "" or "/" = the root ("."). */
export function checkRootDirectory(value: string | null | undefined): string | null | undefined {
  if (value === undefined || value === null) return value;
  const clean = path.posix.normalize(value.trim().replace(/\\/g, '/')).replace(/^\/+|\/+$/g, '');
  if (clean === '..' || clean.startsWith('../')) {
    throw new UserError(
      `Root directory "${value}" leaves the repository; give a directory inside it, like apps/api.`,
    );
  }
  return clean === '' ? '.' : clean;
}

/** A config path is a .toml/.json file inside the repository, written from its root (Railway). */
export function checkConfigPath(value: string | null | undefined): string | null | undefined {
  if (value === undefined || value === null) return value;
  const clean = path.posix.normalize(value.trim().replace(/\\/g, '/')).replace(/^\/+/, '');
  if (
    clean === '' ||
    clean === '.' ||
    clean === '..' ||
    clean.startsWith('../') ||
    !/\.(toml|json)$/i.test(clean)
  ) {
    throw new UserError(
      `Config path "${value}" must name a .toml or .json file inside the repository, like apps/api/railway.toml.`,
    );
  }
  return clean;
}
