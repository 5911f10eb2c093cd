/**
 * A root Caddyfile, read for the two settings Berth's edge can honour (Railpack runs Caddy with it): the
 * served `root` and the `try_files` fallback. Every other directive is named so the build log can warn.
 */
import { readAppText } from './app-files.js';

export interface Caddyfile {
  /** The `root` directive's path made relative to the app ('.' for /app), or null when not set or a template. */
  root: string | null;
  /** A `root` that points outside the app (Berth cannot serve it), as written. */
  rootOutside: string | null;
  /** The literal last `try_files` entry (e.g. 'index.html'), '' when try_files has none, null without try_files. */
  fallback: string | null;
  /** Site-level directives Berth does not apply, in order of appearance, each once. */
  ignored: string[];
}

/** Directives Berth's edge does the equivalent of itself. */
const APPLIED = new Set(['root', 'try_files', 'file_server']);

/** Caddy tokens: words and quoted strings; comments dropped. */
function tokens(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|`([^`]*)`|(\S+)/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) {
    const word = m[1] ?? m[2] ?? m[3];
    if (m[3]?.startsWith('#')) break;
    out.push(word);
  }
  return out;
}

/** Railpack's Caddyfile runs in /app: `/app/dist` and `dist` are both the app's dist/. */
function appRelative(p: string): string | null {
  if (p === '/app' || p === '/app/') return '.';
  if (p.startsWith('/app/')) return p.slice('/app/'.length).replace(/\/+$/, '') || '.';
  if (p.startsWith('/')) return null;
  return p.replace(/^\.\//, '').replace(/\/+$/, '') || '.';
}

export function parseCaddyfile(text: string): Caddyfile {
  const result: Caddyfile = { root: null, rootOutside: null, fallback: null, ignored: [] };
  // depth 0: between blocks; a bare `{` there opens the global options block, `<address> {` a site block.
  let depth = 0;
  let inGlobal = false;
  for (const raw of text.split(/\r?\n/)) {
    const words = tokens(raw.trim());
    if (words.length === 0) continue;
    const opens = words[words.length - 1] === '{';
    const closes = words[0] === '}';
    if (closes) {
      depth = Math.max(0, depth - 1);
      if (depth === 0) inGlobal = false;
      continue;
    }
    if (depth === 0) {
      if (opens) {
        inGlobal = words.length === 1;
        depth = 1;
      }
      continue;
    }
    if (depth === 1 && !inGlobal) {
      const [name, ...args] = words[words.length - 1] === '{' ? words.slice(0, -1) : words;
      if (name === 'root') {
        // `root [<matcher>] <path>`: the path is the last argument.
        const p = args[args.length - 1];
        if (p !== undefined && !p.includes('{{') && !p.includes('{$')) {
          const rel = appRelative(p);
          if (rel === null) result.rootOutside = p;
          else result.root = rel;
        }
      } else if (name === 'try_files') {
        const last = args[args.length - 1];
        // The last entry is the fallback when it is a literal path, not a {path} placeholder.
        result.fallback = last?.startsWith('/') && !last.includes('{') ? last.replace(/^\/+/, '') : '';
      } else if (
        name !== undefined &&
        !name.startsWith('@') && // a named matcher, not a directive
        !APPLIED.has(name) &&
        !result.ignored.includes(name)
      ) {
        result.ignored.push(name);
      }
    }
    if (opens) depth += 1;
  }
  return result;
}

/** The app's root Caddyfile, or null when there is none. */
export function readCaddyfile(appDir: string): Caddyfile | null {
  const text = readAppText(appDir, 'Caddyfile');
  return text === null ? null : parseCaddyfile(text);
}
