/**
 * Build figures of `npm run bench` (issue 15): cold and warm builds of the Node, Python and SPA fixtures through the
 * bench's own server. Cold: the fixture's first `berth up` on that server, its dependencies never downloaded or
 * installed there; warm: `up`s of changed source with the same lockfile (dependency cache hit). Each is timed from
 * spawning the CLI until the edge serves the new version, and the builder's own "build finished in" figure is kept.
 * The Node rows are the deploy rows' node-deps runs (the server's first deploy); see bench/README.md.
 */
import fs from 'node:fs';
import path from 'node:path';

const WARM = 3;

/** The builder's own seconds ("build finished in 1.234 s: …") from a run's CLI events, or null. */
export function buildSeconds(run) {
  for (const e of run.events ?? []) {
    const m = e.type === 'log' ? /^build finished in ([\d.]+) s/.exec(String(e.message)) : null;
    if (m) return Number(m[1]);
  }
  return null;
}

const median = (xs) => {
  const s = xs.filter((x) => x != null).sort((a, b) => a - b);
  if (s.length === 0) return null;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** One fixture's row: cold and warm seconds to serving, and the builder's own seconds. */
export function summarize(name, fixture, cold, warm) {
  return {
    name,
    fixture,
    coldS: cold.servedS,
    coldBuildS: buildSeconds(cold),
    coldCache: cacheState(cold),
    warmMedianS: median(warm.map((w) => w.servedS)),
    warmBuildMedianS: median(warm.map(buildSeconds)),
    warmCache: warm.map(cacheState),
    runs: { cold: strip(cold), warm: warm.map(strip) },
  };
}

/** "hit" / "miss" from the builder's dependency cache line, for the record. */
function cacheState(run) {
  for (const e of run.events ?? []) {
    if (e.type !== 'log') continue;
    const m = /^dependency cache (hit|miss)/.exec(String(e.message));
    if (m) return m[1];
  }
  return null;
}

const strip = (run) => ({ servedS: run.servedS, cliExitS: run.cliExitS, buildS: buildSeconds(run) });

/** python-uv, answering its version (a VERSION file) so every deploy ships changed source under the same uv.lock. */
function preparePython(dir, fixtures) {
  fs.cpSync(path.join(fixtures, 'python-uv'), dir, { recursive: true });
  const file = path.join(dir, 'main.py');
  const src = fs.readFileSync(file, 'utf8');
  const patched = src.replace(
    '    return {\n',
    '    return {\n        "version": open(os.path.join(os.path.dirname(__file__), "VERSION")).read().strip(),\n',
  );
  if (patched === src) throw new Error('could not patch python-uv/main.py; did the fixture change?');
  fs.writeFileSync(file, patched);
}

/** vite-spa, whose built index.html carries the version in a meta tag (vite keeps it). */
function spaVersion(dir, version) {
  const file = path.join(dir, 'index.html');
  const src = fs.readFileSync(file, 'utf8').replace(/\n {4}<meta name="berth-version"[^\n]*/, '');
  fs.writeFileSync(
    file,
    src.replace('<title>', `<meta name="berth-version" content="${version}" />\n    <title>`),
  );
}

/**
 * Runs the Python and SPA builds on the bench's server through `h` (the bench's helpers: up(dir, service,
 * served) → a timed run, cli(args), tmp, fixtures, log). A fixture whose build cannot run here (no Python package
 * index reachable, say) is recorded with the reason instead of failing the bench.
 */
export async function benchBuilds(h) {
  const out = {};
  const fixtures = [
    {
      key: 'python',
      name: 'Python',
      fixture: 'python-uv (FastAPI, requires-python, uv.lock)',
      service: 'build-py',
      prepare: (dir) => preparePython(dir, h.fixtures),
      version: (dir, v) => fs.writeFileSync(path.join(dir, 'VERSION'), `${v}\n`),
      served: (v) => (body) => {
        try {
          return JSON.parse(body).version === v;
        } catch {
          return false;
        }
      },
      // This host reaches Python packages through a mirror: no retries of an index it cannot resolve.
      variables: ['PIP_RETRIES=0'],
    },
    {
      key: 'spa',
      name: 'SPA',
      fixture: 'vite-spa (vite build, served by the edge)',
      service: 'build-spa',
      prepare: (dir) => fs.cpSync(path.join(h.fixtures, 'vite-spa'), dir, { recursive: true }),
      version: spaVersion,
      served: (v) => (body) => body.includes(`name="berth-version" content="${v}"`),
      variables: [],
    },
  ];
  for (const f of fixtures) {
    const dir = path.join(h.tmp, 'apps', f.service);
    f.prepare(dir);
    try {
      h.cli(['add', '-p', h.project, '--service', f.service], dir);
      if (f.variables.length > 0) {
        h.cli(['variables', 'set', ...f.variables, '--skip-deploys', '-p', h.project, '-s', f.service], dir);
      }
      const up = async (v) => {
        f.version(dir, v);
        return h.up(dir, f.service, f.served(v));
      };
      h.log(`build ${f.name}: cold (first up, empty caches)…`);
      const cold = await up('b1');
      h.log(`  served after ${cold.servedS.toFixed(2)} s (build ${buildSeconds(cold)} s)`);
      const warm = [];
      for (let i = 0; i < WARM; i++) {
        h.log(`build ${f.name}: warm ${i + 1}/${WARM} (changed source, same lockfile)…`);
        const r = await up(`b${i + 2}`);
        h.log(`  served after ${r.servedS.toFixed(2)} s (build ${buildSeconds(r)} s)`);
        warm.push(r);
      }
      out[f.key] = summarize(f.name, f.fixture, cold, warm);
    } catch (err) {
      h.log(`build ${f.name}: not measured: ${String(err?.message ?? err).split('\n')[0]}`);
      out[f.key] = { name: f.name, fixture: f.fixture, skipped: String(err?.message ?? err).slice(0, 2000) };
    }
  }
  return out;
}

/** Table rows [metric, result, target, verdict, notes] for the build figures. */
export function buildRows(builds) {
  const rows = [];
  const s = (x) => (x == null ? '?' : `${x.toFixed(2)} s`);
  for (const b of Object.values(builds)) {
    if (b.skipped) {
      rows.push([
        `build, ${b.name}: ${b.fixture}`,
        'n/a',
        '—',
        'info',
        b.skipped.split('\n')[0].slice(0, 80),
      ]);
      continue;
    }
    rows.push([
      `build, ${b.name} cold: ${b.fixture}, empty caches`,
      s(b.coldS),
      '—',
      'info',
      `builder ${s(b.coldBuildS)}; up → serving`,
    ]);
    rows.push([
      `build, ${b.name} warm (median of ${b.runs.warm.length}, caches kept)`,
      s(b.warmMedianS),
      '—',
      'info',
      `builder ${s(b.warmBuildMedianS)}; up → serving`,
    ]);
  }
  return rows;
}
