/** Where the haproxy binary is, without loading the driver (select.ts loads the driver only when used). */

import fs from 'node:fs';
import path from 'node:path';

/** The haproxy binary: on PATH, else where Debian installs it (/usr/sbin is often not on a user's PATH). */
export function findHaproxy(env: NodeJS.ProcessEnv = process.env): string | null {
  const dirs = [...(env.PATH ?? '').split(path.delimiter).filter(Boolean), '/usr/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    const candidate = path.join(d, 'haproxy');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      /* not here */
    }
  }
  return null;
}
