/**
 * Which Python the app asks for, like Railpack: RAILPACK_PYTHON_VERSION > .python-version > runtime.txt >
 * Pipfile's python_version > pyproject's requires-python; and which of the host's interpreters satisfies it.
 * Only the host's pythons (python3 and python3.N on PATH) can be had: nothing is downloaded.
 */
import { parse as parseToml } from 'smol-toml';
import { readAppText } from './app-files.js';

export interface PythonRequest {
  /** A PEP 440 specifier set, e.g. ">=3.11" or "==3.12.*". */
  spec: string;
  /** As written, for messages. */
  shown: string;
  source: string;
}

export interface HostPython {
  /** The command as found on PATH (absolute). */
  path: string;
  version: string;
  basePrefix: string;
}

/** A bare version ("3.12", "3.12.1", "python-3.11.7") as the specifier of that release line, else null. */
export function versionSpec(text: string): string | null {
  const m = /(\d+(?:\.\d+){0,2})/.exec(text.trim());
  if (!m) return null;
  return m[1].split('.').length === 3 ? `==${m[1]}` : `==${m[1]}.*`;
}

function firstLine(text: string | null): string | null {
  if (text === null) return null;
  for (const raw of text.split(/\r?\n/)) {
    const t = raw.replace(/#.*$/, '').trim();
    if (t !== '') return t;
  }
  return null;
}

/** The version the app asks for, or null to use the host's python3. */
export function pythonRequest(appDir: string, env: Record<string, string>): PythonRequest | null {
  const bare = (shown: string | null | undefined, source: string): PythonRequest | null => {
    if (!shown) return null;
    const spec = versionSpec(shown);
    return spec ? { spec, shown, source } : null;
  };
  const fromEnv = bare(env.RAILPACK_PYTHON_VERSION?.trim(), 'RAILPACK_PYTHON_VERSION');
  if (fromEnv) return fromEnv;
  const dotfile = bare(firstLine(readAppText(appDir, '.python-version')), '.python-version');
  if (dotfile) return dotfile;
  const runtime = bare(firstLine(readAppText(appDir, 'runtime.txt')), 'runtime.txt');
  if (runtime) return runtime;
  const pipfile = readAppText(appDir, 'Pipfile');
  const pipVersion = pipfile && /python_(?:full_)?version\s*=\s*['"]([0-9.]+)['"]/.exec(pipfile)?.[1];
  const fromPipfile = bare(pipVersion, 'Pipfile');
  if (fromPipfile) return fromPipfile;
  const pyproject = readAppText(appDir, 'pyproject.toml');
  if (pyproject !== null) {
    try {
      const project = (parseToml(pyproject) as { project?: { 'requires-python'?: unknown } }).project;
      const requires = project?.['requires-python'];
      if (typeof requires === 'string' && requires.trim() !== '') {
        return { spec: requires.trim(), shown: requires.trim(), source: 'requires-python in pyproject.toml' };
      }
    } catch {
      /* an unreadable pyproject is reported by the install step */
    }
  }
  return null;
}

function release(v: string): number[] {
  return v.split('.').map((p) => Number.parseInt(p, 10) || 0);
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** One PEP 440 clause (release numbers only; pre-releases are out of scope for interpreters). */
function clauseMatches(version: string, clause: string): boolean {
  const m = /^(~=|===|==|!=|<=|>=|<|>)?\s*([0-9][0-9.]*)(\.\*)?$/.exec(clause.trim());
  if (!m) return false;
  const op = m[1] ?? '==';
  const want = release(m[2].replace(/\.$/, ''));
  const have = release(version);
  if (m[3]) {
    const prefix = compare(have.slice(0, want.length), want) === 0;
    return op === '!=' ? !prefix : op === '==' ? prefix : false;
  }
  const c = compare(have, want);
  switch (op) {
    case '==':
    case '===':
      return c === 0;
    case '!=':
      return c !== 0;
    case '<=':
      return c <= 0;
    case '>=':
      return c >= 0;
    case '<':
      return c < 0;
    case '>':
      return c > 0;
    default: {
      // ~=X.Y.Z: >= X.Y.Z and == X.Y.*
      if (want.length < 2) return false;
      return c >= 0 && compare(have.slice(0, want.length - 1), want.slice(0, -1)) === 0;
    }
  }
}

/** True when version (e.g. "3.11.2") satisfies every clause of spec (e.g. ">=3.10,<4"). */
export function satisfies(version: string, spec: string): boolean {
  const clauses = spec.split(',').filter((c) => c.trim() !== '');
  return clauses.length > 0 && clauses.every((c) => clauseMatches(version, c));
}

/** Names on PATH that are Python 3 interpreters: python3 and python3.N. */
export const PYTHON_NAME = /^python3(\.\d+)?$/;

/**
 * The interpreter to build with: with no request the first python3 on PATH; else the newest satisfying one.
 * A string is the sentence for the user when none does.
 */
export function pickPython(found: HostPython[], request: PythonRequest | null): HostPython | string {
  if (found.length === 0) {
    return 'Python 3 ("python3") is not installed on this host; install it (Debian: apt-get install python3 python3-venv) to build Python apps';
  }
  if (request === null) return found[0];
  const ok = found
    .filter((p) => satisfies(p.version, request.spec))
    .sort((a, b) => compare(release(b.version), release(a.version)));
  if (ok.length > 0) return ok[0];
  const installed = [...new Set(found.map((p) => `${p.version} (${p.path})`))].join(', ');
  return `Python ${request.shown} was asked for (${request.source}), but this host has only Python ${installed}; install a matching Python on the server (pyenv, or Debian's python3 packages) or change ${request.source}`;
}
