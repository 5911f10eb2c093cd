import fs from 'node:fs';

/** Space on the filesystem holding a path, as `df` reports it for an unprivileged user. */
export interface DiskSpace {
  path: string;
  /** Bytes a non-root process may still write (statfs f_bavail). */
  freeBytes: number;
  totalBytes: number;
}

/** The filesystem space at `dir`, or null when it cannot be read (a missing dir, an exotic filesystem). */
export function diskSpace(dir: string): DiskSpace | null {
  try {
    const s = fs.statfsSync(dir);
    return { path: dir, freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
  } catch {
    return null;
  }
}

/** Nearly full: under 10 % or under 2 GiB free, when builds and logs are about to fail. */
export function diskLow(d: DiskSpace): boolean {
  return d.freeBytes < 2 * 1024 ** 3 || d.freeBytes < d.totalBytes * 0.1;
}
