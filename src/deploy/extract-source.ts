import fs from 'node:fs';
import { UserError } from '../core/errors.js';
import { formatBytes } from '../lib/format-bytes.js';

/**
 * Extracts a deployment's source snapshot (gzipped tar) with caps on what it may expand to: a 1 MB gzip
 * can hold 900 MB of zeros, which node-tar's ratio guard lets through. Entry headers are counted before
 * their data is written, so the caps hold exactly. A refused entry is named in the error.
 */
export interface SourceLimits {
  /** Total bytes of the files in the archive. */
  maxBytes: number;
  /** Files, directories and links. */
  maxEntries: number;
}

export const DEFAULT_SOURCE_LIMITS: SourceLimits = { maxBytes: 2 * 1024 ** 3, maxEntries: 200_000 };

/** The defaults, overridable with BERTH_MAX_SOURCE_BYTES / BERTH_MAX_SOURCE_ENTRIES (positive integers). */
export function sourceLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): SourceLimits {
  const read = (name: string, fallback: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n <= 0) {
      throw new UserError(`${name}="${raw}" is not a positive whole number; fix or unset it.`);
    }
    return n;
  };
  return {
    maxBytes: read('BERTH_MAX_SOURCE_BYTES', DEFAULT_SOURCE_LIMITS.maxBytes),
    maxEntries: read('BERTH_MAX_SOURCE_ENTRIES', DEFAULT_SOURCE_LIMITS.maxEntries),
  };
}

/** node-tar's error for a refused archive or entry (strict mode), with what it attaches. */
interface TarError extends Error {
  tarCode?: string;
  path?: string;
  linkpath?: string;
  entry?: { path?: string; type?: string; linkpath?: string };
}

/** One sentence for node-tar's refusal: which entry, and why. */
export function tarRefusal(err: TarError): UserError | null {
  if (!err.tarCode) return null;
  // The path as the archive has it (node-tar strips a leading / from entry.path before it complains).
  const entry = err.path ?? err.entry?.path;
  const why = err.message.replace(/^TAR_[A-Z_]+: /, '');
  if (err.tarCode === 'TAR_BAD_ARCHIVE' || !entry) {
    return new UserError(`the source is not a valid gzipped tar archive (${why}); upload it again`);
  }
  const link = err.linkpath ?? err.entry?.linkpath;
  const what = `entry "${entry}"${link ? ` (a link to "${link}")` : ''}`;
  let reason = why;
  if (/from absolute/.test(why)) reason = `its ${/linkpath/.test(why) ? 'link target' : 'path'} is absolute`;
  else if (/contains '\.\.'|escape/.test(why)) reason = 'it points outside the source tree';
  else if (err.tarCode === 'TAR_ENTRY_UNSUPPORTED')
    reason = `it is a ${err.entry?.type ?? 'special file'}, which a source cannot contain`;
  return new UserError(
    `the source archive's ${what} was refused: ${reason}; remove it from the source and deploy again`,
  );
}

/** Extracts `file` into `dir` (created) under `limits`; on any refusal `dir` is removed and a UserError says why. */
export async function extractSource(file: string, dir: string, limits: SourceLimits): Promise<void> {
  // Loaded at the first build, not at start: a restarted daemon that only supervises does not carry it.
  const tar = await import('tar');
  fs.mkdirSync(dir, { recursive: true });
  let bytes = 0;
  let entries = 0;
  let refusal: UserError | null = null;
  const unpack = new tar.Unpack({
    cwd: dir,
    strict: true,
    filter: (_path, entry) => {
      if (refusal) return false;
      entries += 1;
      bytes += 'size' in entry && typeof entry.size === 'number' ? entry.size : 0;
      if (entries > limits.maxEntries) {
        refusal = new UserError(
          `the source has more than ${limits.maxEntries} files and directories, more than this server extracts; leave generated files out (.gitignore) and deploy again`,
        );
      } else if (bytes > limits.maxBytes) {
        refusal = new UserError(
          `the source expands to more than ${formatBytes(limits.maxBytes)} (at ${_path}), more than this server extracts; leave large and generated files out (.gitignore) and deploy again`,
        );
      }
      if (refusal) unpack.abort(refusal);
      return refusal === null;
    },
  });
  const input = fs.createReadStream(file);
  try {
    await new Promise<void>((resolve, reject) => {
      unpack.on('error', reject);
      unpack.on('close', resolve);
      input.on('error', reject);
      input.pipe(unpack);
    });
  } catch (err) {
    input.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
    if (refusal) throw refusal;
    throw tarRefusal(err as TarError) ?? err;
  }
}
