/**
 * Python lockfiles read into pinned, hash-checked requirements, so pip installs exactly what uv.lock,
 * poetry.lock, pdm.lock or Pipfile.lock pinned when the tool itself cannot be had on this host. Production
 * dependencies only, as Railpack installs them (`--no-dev`, `--only main`, `--prod`, Pipfile's default).
 */
import { parse as parseToml } from 'smol-toml';
import { BuildError } from '../core/errors.js';

export type LockKind = 'uv.lock' | 'poetry.lock' | 'pdm.lock' | 'Pipfile.lock';

export interface LockedRequirement {
  name: string;
  version: string;
  /** "sha256:<hex>" of every file of this version (wheels and sdist): pip accepts any of them. */
  hashes: string[];
  /** PEP 508 environment marker, or null when always needed. */
  marker: string | null;
}

/** PEP 503 normalised name. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

type Table = Record<string, unknown>;

function asTable(v: unknown): Table {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Table) : {};
}

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function parseLockToml(kind: LockKind, text: string): Table {
  try {
    return parseToml(text) as Table;
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new BuildError(`${kind} could not be read as TOML (${why}); regenerate it and deploy again`);
  }
}

function hashesOf(files: unknown[], kind: LockKind, pkg: string): string[] {
  const hashes = files
    .map((f) => str(asTable(f).hash))
    .filter((h): h is string => h !== null && /^sha256:[0-9a-f]{64}$/i.test(h));
  if (hashes.length === 0) {
    throw new BuildError(
      `${kind} has no sha256 hashes for ${pkg}, so it cannot be installed hash-checked; regenerate the lockfile with hashes`,
    );
  }
  return [...new Set(hashes)];
}

/** Markers met along one path from the project, combined. */
function andMarkers(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return `(${a}) and (${b})`;
}

/**
 * uv.lock: the packages reachable from the project's own entry (source virtual or editable) through its
 * dependencies and the extras asked for, dev groups left out. The project itself is not installed (its code
 * runs from the app directory). `requires` is the project's [project].dependencies, checked against the lock
 * as `uv sync --locked` does.
 */
export function uvLockRequirements(
  text: string,
  projectName: string | null,
  requires: string[],
): LockedRequirement[] {
  const lock = parseLockToml('uv.lock', text);
  const packages = asArray(lock.package).map(asTable);
  const byName = new Map<string, Table[]>();
  for (const p of packages) {
    const name = str(p.name);
    if (name) byName.set(normalizeName(name), [...(byName.get(normalizeName(name)) ?? []), p]);
  }
  const isLocal = (p: Table) => {
    const source = asTable(p.source);
    return source.virtual !== undefined || source.editable !== undefined;
  };
  const root =
    (projectName ? byName.get(normalizeName(projectName))?.find(isLocal) : undefined) ??
    packages.find((p) => isLocal(p) && str(asTable(p.source).virtual ?? asTable(p.source).editable) === '.');
  if (!root) {
    throw new BuildError(
      'uv.lock has no entry for this project (a package with source virtual or editable "."); run `uv lock` and commit uv.lock',
    );
  }
  checkUvLocked(root, requires);

  const found = new Map<Table, Set<string>>();
  const unconditional = new Set<Table>();
  const queue: Array<{ pkg: Table; marker: string | null; extras: string[] }> = [];
  const follow = (deps: unknown[], marker: string | null) => {
    for (const d of deps.map(asTable)) {
      const name = str(d.name);
      if (!name) continue;
      const candidates = byName.get(normalizeName(name)) ?? [];
      const version = str(d.version);
      const pkg = version ? candidates.find((c) => c.version === version) : candidates[0];
      if (!pkg)
        throw new BuildError(
          `uv.lock lists ${name} as a dependency but has no entry for it; run \`uv lock\``,
        );
      const m = andMarkers(marker, str(d.marker));
      const extras = asArray(d.extra).filter((e): e is string => typeof e === 'string');
      const seen = found.get(pkg) ?? new Set<string>();
      const key = `${m ?? ''}|${extras.join(',')}`;
      if (seen.has(key) || (unconditional.has(pkg) && extras.length === 0)) continue;
      seen.add(key);
      found.set(pkg, seen);
      if (m === null) unconditional.add(pkg);
      queue.push({ pkg, marker: m, extras });
    }
  };
  follow(asArray(root.dependencies), null);
  while (queue.length > 0) {
    const next = queue.shift() as { pkg: Table; marker: string | null; extras: string[] };
    follow(asArray(next.pkg.dependencies), next.marker);
    const optional = asTable(next.pkg['optional-dependencies']);
    for (const extra of next.extras) follow(asArray(optional[extra]), next.marker);
  }

  const out: LockedRequirement[] = [];
  for (const [pkg, markers] of found) {
    if (pkg === root) continue;
    const name = str(pkg.name) as string;
    const version = str(pkg.version);
    const source = asTable(pkg.source);
    if (source.registry === undefined || version === null) {
      const where = Object.keys(source)[0] ?? 'an unknown source';
      throw new BuildError(
        `uv.lock pins ${name} from ${where}, which Berth can install only with uv, and uv is not installed on this host; install uv on the server or depend on a released version of ${name}`,
      );
    }
    const files = [...asArray(pkg.wheels), ...(pkg.sdist ? [pkg.sdist] : [])];
    const ms = [...markers].map((k) => k.split('|')[0]);
    const marker = unconditional.has(pkg) ? null : [...new Set(ms)].map((m) => `(${m})`).join(' or ');
    out.push({ name, version, hashes: hashesOf(files, 'uv.lock', name), marker: marker || null });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The requirement's name (and extras) without its version or marker: "Uvicorn[standard]>=0.30" → "uvicorn[standard]". */
function requirementKey(req: string): string {
  const m = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?/.exec(req);
  if (!m) return req.trim();
  const extras = (m[2] ?? '')
    .slice(1, -1)
    .split(',')
    .map((e) => normalizeName(e.trim()))
    .filter((e) => e !== '')
    .sort();
  return `${normalizeName(m[1])}${extras.length ? `[${extras.join(',')}]` : ''}`;
}

/**
 * `uv sync --locked` refuses a lock whose recorded requirements differ from pyproject's. Berth compares the
 * names and extras (the specifiers are uv's own business), which catches a dependency added without relocking.
 */
function checkUvLocked(root: Table, requires: string[]): void {
  const recorded = asArray(asTable(root.metadata)['requires-dist'])
    .map(asTable)
    .map((r) => {
      const name = str(r.name) ?? '';
      const extras = asArray(r.extras).filter((e): e is string => typeof e === 'string');
      return requirementKey(`${name}${extras.length ? `[${extras.join(',')}]` : ''}`);
    });
  const wanted = requires.map(requirementKey);
  const missing = wanted.filter((w) => !recorded.includes(w));
  const extra = recorded.filter((r) => !wanted.includes(r));
  if (missing.length > 0 || extra.length > 0) {
    const parts = [
      missing.length ? `pyproject.toml has ${missing.join(', ')} that uv.lock does not` : '',
      extra.length ? `uv.lock has ${extra.join(', ')} that pyproject.toml no longer lists` : '',
    ].filter((p) => p !== '');
    throw new BuildError(`uv.lock is out of date (${parts.join('; ')}); run \`uv lock\` and commit uv.lock`);
  }
}

/** poetry.lock: the main group (`groups = ["main"]`, or `category = "main"` in older locks). */
export function poetryLockRequirements(text: string): LockedRequirement[] {
  const lock = parseLockToml('poetry.lock', text);
  const out: LockedRequirement[] = [];
  for (const p of asArray(lock.package).map(asTable)) {
    const name = str(p.name);
    const version = str(p.version);
    if (!name || !version) continue;
    const groups = asArray(p.groups).filter((g): g is string => typeof g === 'string');
    const main = groups.length > 0 ? groups.includes('main') : (str(p.category) ?? 'main') === 'main';
    if (!main || p.optional === true) continue;
    const source = asTable(p.source);
    if (source.type !== undefined && source.type !== 'legacy') {
      throw new BuildError(
        `poetry.lock pins ${name} from a ${String(source.type)} source, which Berth can install only with poetry, and poetry is not installed on this host; install poetry on the server or depend on a released version`,
      );
    }
    const markers = p.markers;
    const marker = typeof markers === 'string' ? markers : str(asTable(markers).main);
    out.push({ name, version, hashes: hashesOf(asArray(p.files), 'poetry.lock', name), marker });
  }
  return out;
}

/** pdm.lock: packages of the default group. */
export function pdmLockRequirements(text: string): LockedRequirement[] {
  const lock = parseLockToml('pdm.lock', text);
  const out: LockedRequirement[] = [];
  for (const p of asArray(lock.package).map(asTable)) {
    const name = str(p.name);
    const version = str(p.version);
    if (!name || !version) continue;
    const groups = asArray(p.groups).filter((g): g is string => typeof g === 'string');
    if (groups.length > 0 && !groups.includes('default')) continue;
    if (p.git !== undefined || p.path !== undefined || p.url !== undefined) {
      throw new BuildError(
        `pdm.lock pins ${name} from outside a package index, which Berth can install only with pdm, and pdm is not installed on this host; install pdm on the server or depend on a released version`,
      );
    }
    out.push({ name, version, hashes: hashesOf(asArray(p.files), 'pdm.lock', name), marker: str(p.marker) });
  }
  return out;
}

/** Pipfile.lock: its "default" section (what `pipenv install --deploy` installs). */
export function pipfileLockRequirements(text: string): LockedRequirement[] {
  let lock: Table;
  try {
    lock = asTable(JSON.parse(text));
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new BuildError(
      `Pipfile.lock could not be read as JSON (${why}); run \`pipenv lock\` and commit it`,
    );
  }
  const out: LockedRequirement[] = [];
  for (const [name, value] of Object.entries(asTable(lock.default))) {
    const entry = asTable(value);
    const version = str(entry.version)?.replace(/^==/, '') ?? null;
    if (!version) {
      throw new BuildError(
        `Pipfile.lock pins ${name} without a version (a git or path dependency), which Berth can install only with pipenv, and pipenv is not installed on this host; install pipenv on the server or depend on a released version`,
      );
    }
    const hashes = asArray(entry.hashes).map((h) => ({ hash: h }));
    out.push({ name, version, hashes: hashesOf(hashes, 'Pipfile.lock', name), marker: str(entry.markers) });
  }
  return out;
}

/** requirements.txt text for `pip install --require-hashes --no-deps -r`. */
export function requirementsText(reqs: LockedRequirement[]): string {
  return reqs
    .map((r) => {
      const head = `${r.name}==${r.version}${r.marker ? ` ; ${r.marker}` : ''}`;
      return [head, ...r.hashes.map((h) => `    --hash=${h}`)].join(' \\\n');
    })
    .map((l) => `${l}\n`)
    .join('');
}
