import fs from 'node:fs';
import path from 'node:path';
import ignore from 'ignore';
import { create as createTar } from 'tar';
import { CliError } from './errors.js';

/**
 * The source tarball `berth up` uploads: a gzipped tar of a directory that honours `.gitignore`
 * (at the root and in subdirectories), `.railwayignore` and `.berthignore` (root), and never contains
 * `.git` or `node_modules`.
 */

/** Never uploaded, at any depth. */
export const ALWAYS_EXCLUDED = new Set(['.git', 'node_modules']);
/** Read at the root only, in this order (later files can re-include with `!pattern`). */
export const ROOT_IGNORE_FILES = ['.gitignore', '.railwayignore', '.berthignore'];

interface Matcher {
  /** Directory the patterns are relative to ('' for the root), with a trailing slash when not root. */
  base: string;
  ig: ignore.Ignore;
}

function readIgnoreFile(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Deeper .gitignore files override shallower ones, as in git. */
function isIgnored(matchers: Matcher[], rel: string, isDir: boolean): boolean {
  let ignored = false;
  for (const m of matchers) {
    if (!rel.startsWith(m.base)) continue;
    const sub = rel.slice(m.base.length) + (isDir ? '/' : '');
    const r = m.ig.test(sub);
    if (r.ignored) ignored = true;
    else if (r.unignored) ignored = false;
  }
  return ignored;
}

export interface UploadOptions {
  /** false: `.gitignore` files are not read (Railway's `up --no-gitignore`); the other ignore files still are. */
  gitignore?: boolean;
}

/** Relative (POSIX) paths of every file and symlink to upload, sorted (empty directories are dropped). */
export function listSourceFiles(root: string, opts: UploadOptions = {}): string[] {
  const gitignore = opts.gitignore ?? true;
  const rootIg = ignore();
  for (const name of ROOT_IGNORE_FILES) {
    if (name === '.gitignore' && !gitignore) continue;
    const text = readIgnoreFile(path.join(root, name));
    if (text !== undefined) rootIg.add(text);
  }
  const out: string[] = [];
  const walk = (dirRel: string, matchers: Matcher[]) => {
    const abs = path.join(root, dirRel);
    if (dirRel && gitignore) {
      const nested = readIgnoreFile(path.join(abs, '.gitignore'));
      if (nested !== undefined) matchers = [...matchers, { base: `${dirRel}/`, ig: ignore().add(nested) }];
    }
    const entries = fs.readdirSync(abs, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      if (ALWAYS_EXCLUDED.has(entry.name)) continue;
      const rel = dirRel ? `${dirRel}/${entry.name}` : entry.name;
      const isDir = entry.isDirectory();
      if (isIgnored(matchers, rel, isDir)) continue;
      if (isDir) walk(rel, matchers);
      else if (entry.isFile() || entry.isSymbolicLink()) out.push(rel);
    }
  };
  walk('', [{ base: '', ig: rootIg }]);
  return out;
}

export interface SourceTarball {
  data: Buffer;
  files: number;
  bytes: number;
}

/** Gzipped tar of root's uploadable files; paths inside are relative to root. */
export async function createSourceTarball(root: string, opts: UploadOptions = {}): Promise<SourceTarball> {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(root);
  } catch {
    throw new CliError(`The path ${root} does not exist`);
  }
  if (!stat.isDirectory()) throw new CliError(`The path ${root} is not a directory`);
  const files = listSourceFiles(root, opts);
  if (files.length === 0) throw new CliError(`There are no files to upload in ${root} (all are ignored)`);
  const chunks: Buffer[] = [];
  // noDirRecurse: only the listed paths go in (a listed symlink is stored as a link, never followed).
  const stream = createTar({ gzip: true, cwd: root, portable: true, noDirRecurse: true }, files);
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  }
  const data = Buffer.concat(chunks);
  return { data, files: files.length, bytes: data.length };
}
