import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { UserError } from '../core/errors.js';
import type { DataPaths } from '../deploy/paths.js';

/**
 * The admin token reaches everything, so the server never runs with a weak one: an empty file once turned
 * authentication off (an empty bearer matched it). Generated on a new data dir; refused when short.
 */
export const MIN_ADMIN_TOKEN_LENGTH = 32;

const howToFix = (file: string) =>
  `write a new token of at least ${MIN_ADMIN_TOKEN_LENGTH} characters into it (for example \`head -c 32 /dev/urandom | base64 > ${file} && chmod 600 ${file}\`) and start the server again`;

/** Reads `<data-dir>/admin-token`, creating it (0600) when the data dir is new. */
export function loadAdminToken(paths: DataPaths): string {
  let text: string;
  try {
    text = fs.readFileSync(paths.adminToken, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    if (fs.existsSync(paths.db)) {
      throw new UserError(
        `${paths.adminToken} is missing, but ${paths.root} already holds Berth's state; ${howToFix(paths.adminToken)}.`,
      );
    }
    const token = randomBytes(32).toString('base64url');
    fs.writeFileSync(paths.adminToken, `${token}\n`, { mode: 0o600, flag: 'wx' });
    return token;
  }
  const token = text.trim();
  if (token.length < MIN_ADMIN_TOKEN_LENGTH) {
    const what = token === '' ? 'is empty' : `holds only ${token.length} characters`;
    throw new UserError(
      `${paths.adminToken} ${what}, which anyone could guess; ${howToFix(paths.adminToken)}.`,
    );
  }
  return token;
}
