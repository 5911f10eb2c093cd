/**
 * Reading files of the app being built, as the daemon: a path that resolves outside the app (a committed
 * symlink to /etc/shadow, say) reads as absent, so its contents can never reach a build log or the cache.
 */
import fs from 'node:fs';
import path from 'node:path';

/** The real path of rel, when it exists and resolves inside appDir (or is appDir itself); else null. */
function realInside(appDir: string, rel: string): string | null {
  try {
    const root = fs.realpathSync(appDir);
    const real = fs.realpathSync(path.resolve(appDir, rel));
    return real === root || real.startsWith(root + path.sep) ? real : null;
  } catch {
    return null;
  }
}

/** The real path of rel inside appDir, or null when it is missing, not a file, or resolves outside appDir. */
export function appFilePath(appDir: string, rel: string): string | null {
  const real = realInside(appDir, rel);
  if (real === null || real === path.resolve(appDir)) return null;
  try {
    return fs.statSync(real).isFile() ? real : null;
  } catch {
    return null;
  }
}

/** The real path of the directory rel inside appDir, or null when it is missing, not one, or resolves outside. */
export function appDirPath(appDir: string, rel: string): string | null {
  const real = realInside(appDir, rel);
  if (real === null) return null;
  try {
    return fs.statSync(real).isDirectory() ? real : null;
  } catch {
    return null;
  }
}

/** The text of rel inside appDir, or null (see appFilePath). */
export function readAppText(appDir: string, rel: string): string | null {
  const file = appFilePath(appDir, rel);
  if (file === null) return null;
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}
