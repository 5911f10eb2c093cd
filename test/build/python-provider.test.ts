import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { daemonPipConfig, daemonPipVariables } from '../../src/build/pip-config.js';
import { pipLockedArgv, pythonStart, readDeps, uvSyncArgv } from '../../src/build/python.js';
import {
  pdmLockRequirements,
  pipfileLockRequirements,
  poetryLockRequirements,
  requirementsText,
  uvLockRequirements,
} from '../../src/build/python-lock.js';
import { pickPython, pythonRequest, satisfies, versionSpec } from '../../src/build/python-version.js';
import { makeTmpDir } from '../helpers/tmp.js';

const tmp = makeTmpDir('berth-py-');
afterAll(() => tmp.cleanup());
let n = 0;
function app(files: Record<string, string>): string {
  const dir = path.join(tmp.dir, `a${++n}`);
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

const H = (c: string) => `sha256:${c.repeat(64)}`;
const FIXTURE_LOCK = path.resolve(__dirname, '..', 'fixtures', 'apps', 'python-uv', 'uv.lock');

describe('Python version, like Railpack', () => {
  it('reads RAILPACK_PYTHON_VERSION > .python-version > runtime.txt > Pipfile > requires-python', () => {
    const all = {
      '.python-version': '3.12\n',
      'runtime.txt': 'python-3.11.7',
      Pipfile: '[requires]\npython_version = "3.10"\n',
      'pyproject.toml': '[project]\nname = "x"\nrequires-python = ">=3.9,<4"\n',
    };
    expect(pythonRequest(app(all), { RAILPACK_PYTHON_VERSION: '3.13' })).toEqual({
      spec: '==3.13.*',
      shown: '3.13',
      source: 'RAILPACK_PYTHON_VERSION',
    });
    expect(pythonRequest(app(all), {})?.source).toBe('.python-version');
    const { '.python-version': _a, ...noDot } = all;
    expect(pythonRequest(app(noDot), {})).toEqual({
      spec: '==3.11.7',
      shown: 'python-3.11.7',
      source: 'runtime.txt',
    });
    const { 'runtime.txt': _b, ...noRuntime } = noDot;
    expect(pythonRequest(app(noRuntime), {})?.spec).toBe('==3.10.*');
    const { Pipfile: _c, ...onlyPyproject } = noRuntime;
    expect(pythonRequest(app(onlyPyproject), {})).toEqual({
      spec: '>=3.9,<4',
      shown: '>=3.9,<4',
      source: 'requires-python in pyproject.toml',
    });
    expect(pythonRequest(app({ 'main.py': '' }), {})).toBeNull();
  });

  it('matches PEP 440 specifiers against interpreter versions', () => {
    expect(versionSpec('3.12')).toBe('==3.12.*');
    expect(versionSpec('3.12.1')).toBe('==3.12.1');
    expect(satisfies('3.11.2', '>=3.11')).toBe(true);
    expect(satisfies('3.11.2', '>=3.9,<3.11')).toBe(false);
    expect(satisfies('3.11.2', '==3.11.*')).toBe(true);
    expect(satisfies('3.12.0', '==3.11.*')).toBe(false);
    expect(satisfies('3.11.9', '~=3.11.2')).toBe(true);
    expect(satisfies('3.12.0', '~=3.11.2')).toBe(false);
    expect(satisfies('3.11.2', '!=3.11.2')).toBe(false);
  });

  it('picks the newest matching host Python, or says in one sentence what was asked for and what is installed', () => {
    const found = [
      { path: '/usr/bin/python3', version: '3.11.2', basePrefix: '/usr' },
      { path: '/opt/py/bin/python3.12', version: '3.12.1', basePrefix: '/opt/py' },
    ];
    expect(pickPython(found, null)).toBe(found[0]);
    expect(pickPython(found, { spec: '>=3.10', shown: '>=3.10', source: 'x' })).toBe(found[1]);
    expect(pickPython(found, { spec: '==3.13.*', shown: '3.13', source: '.python-version' })).toBe(
      "Python 3.13 was asked for (.python-version), but this host has only Python 3.11.2 (/usr/bin/python3), 3.12.1 (/opt/py/bin/python3.12); install a matching Python on the server (pyenv, or Debian's python3 packages) or change .python-version",
    );
    expect(pickPython([], null)).toMatch(/^Python 3 \("python3"\) is not installed on this host/);
  });
});

describe('Python lockfiles installed by their pins', () => {
  it("exports the fixture's uv.lock: every package reachable from the project, pinned with its hash", () => {
    const reqs = uvLockRequirements(fs.readFileSync(FIXTURE_LOCK, 'utf8'), 'python-uv', [
      'fastapi>=0.115',
      'uvicorn>=0.30',
    ]);
    expect(reqs.map((r) => `${r.name}==${r.version}`)).toContain('fastapi==0.142.2');
    expect(reqs.find((r) => r.name === 'pydantic-core')?.hashes).toHaveLength(1);
    expect(reqs.every((r) => r.hashes.every((h) => /^sha256:[0-9a-f]{64}$/.test(h)))).toBe(true);
    // typing-extensions is needed unconditionally by fastapi, so anyio's marker does not narrow it.
    expect(reqs.find((r) => r.name === 'typing-extensions')?.marker).toBeNull();
    expect(reqs.some((r) => r.name === 'python-uv')).toBe(false);
  });

  it('follows extras and markers, leaves dev groups out, and refuses a stale or non-registry lock', () => {
    const lock = `version = 1
requires-python = ">=3.11"

[[package]]
name = "app"
version = "0.1.0"
source = { editable = "." }
dependencies = [{ name = "uvicorn", extra = ["standard"] }]

[package.dev-dependencies]
dev = [{ name = "pytest" }]

[package.metadata]
requires-dist = [{ name = "uvicorn", extras = ["standard"], specifier = ">=0.30" }]

[[package]]
name = "uvicorn"
version = "0.30.0"
source = { registry = "https://pypi.org/simple" }
dependencies = [{ name = "h11" }]
sdist = { url = "https://x/uvicorn.tar.gz", hash = "${H('a')}" }
wheels = [{ url = "https://x/uvicorn.whl", hash = "${H('b')}" }]

[package.optional-dependencies]
standard = [{ name = "uvloop", marker = "sys_platform != 'win32'" }]

[[package]]
name = "h11"
version = "0.14.0"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "https://x/h11.whl", hash = "${H('c')}" }]

[[package]]
name = "uvloop"
version = "0.21.0"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "https://x/uvloop.whl", hash = "${H('d')}" }]

[[package]]
name = "pytest"
version = "8.0.0"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "https://x/pytest.whl", hash = "${H('e')}" }]
`;
    const reqs = uvLockRequirements(lock, 'app', ['uvicorn[standard]>=0.30']);
    expect(reqs).toEqual([
      { name: 'h11', version: '0.14.0', hashes: [H('c')], marker: null },
      { name: 'uvicorn', version: '0.30.0', hashes: [H('b'), H('a')], marker: null },
      { name: 'uvloop', version: '0.21.0', hashes: [H('d')], marker: "(sys_platform != 'win32')" },
    ]);
    expect(requirementsText(reqs.slice(2))).toBe(
      `uvloop==0.21.0 ; (sys_platform != 'win32') \\\n    --hash=${H('d')}\n`,
    );
    expect(() => uvLockRequirements(lock, 'app', ['uvicorn>=0.30'])).toThrow(
      'uv.lock is out of date (pyproject.toml has uvicorn that uv.lock does not; uv.lock has uvicorn[standard] that pyproject.toml no longer lists); run `uv lock` and commit uv.lock',
    );
    const git = lock.replace(
      'name = "h11"\nversion = "0.14.0"\nsource = { registry = "https://pypi.org/simple" }',
      'name = "h11"\nversion = "0.14.0"\nsource = { git = "https://example.invalid/h11?rev=1" }',
    );
    expect(() => uvLockRequirements(git, 'app', ['uvicorn[standard]'])).toThrow(
      'uv.lock pins h11 from git, which Berth can install only with uv, and uv is not installed on this host; install uv on the server or depend on a released version of h11',
    );
  });

  it('poetry.lock: the main group only; pdm.lock: the default group; Pipfile.lock: default', () => {
    const poetry = `[[package]]
name = "flask"
version = "3.0.0"
groups = ["main"]
files = [{file = "flask-3.0.0-py3-none-any.whl", hash = "${H('1')}"}]

[[package]]
name = "pytest"
version = "8.0.0"
groups = ["dev"]
files = [{file = "pytest.whl", hash = "${H('2')}"}]

[[package]]
name = "colorama"
version = "0.4.6"
category = "main"
markers = "platform_system == \\"Windows\\""
files = [{file = "colorama.whl", hash = "${H('3')}"}]
`;
    expect(poetryLockRequirements(poetry)).toEqual([
      { name: 'flask', version: '3.0.0', hashes: [H('1')], marker: null },
      { name: 'colorama', version: '0.4.6', hashes: [H('3')], marker: 'platform_system == "Windows"' },
    ]);
    const pdm = `[[package]]
name = "gunicorn"
version = "23.0.0"
groups = ["default"]
files = [{file = "gunicorn.whl", hash = "${H('4')}"}]

[[package]]
name = "ruff"
version = "0.6.0"
groups = ["lint"]
files = [{file = "ruff.whl", hash = "${H('5')}"}]
`;
    expect(pdmLockRequirements(pdm)).toEqual([
      { name: 'gunicorn', version: '23.0.0', hashes: [H('4')], marker: null },
    ]);
    const pipfile = JSON.stringify({
      default: { django: { version: '==5.1', hashes: [H('6')], markers: "python_version >= '3.10'" } },
      develop: { pytest: { version: '==8.0.0', hashes: [H('7')] } },
    });
    expect(pipfileLockRequirements(pipfile)).toEqual([
      { name: 'django', version: '5.1', hashes: [H('6')], marker: "python_version >= '3.10'" },
    ]);
    expect(() => poetryLockRequirements(poetry.replace(`hash = "${H('1')}"`, 'hash = "md5:x"'))).toThrow(
      'poetry.lock has no sha256 hashes for flask, so it cannot be installed hash-checked; regenerate the lockfile with hashes',
    );
  });

  it('picks the install like Railpack: requirements.txt > uv.lock (uv when the host has it) > poetry > pdm > Pipfile', () => {
    const pyproject = '[project]\nname = "python-uv"\ndependencies = ["fastapi>=0.115", "uvicorn>=0.30"]\n';
    const withUv = { 'pyproject.toml': pyproject, 'uv.lock': fs.readFileSync(FIXTURE_LOCK, 'utf8') };
    expect(readDeps(app({ ...withUv, 'requirements.txt': 'flask\n' }), null)).toMatchObject({
      source: 'requirements.txt',
      mode: 'pip',
      pipArgs: ['-r', 'requirements.txt'],
    });
    expect(readDeps(app(withUv), null)).toMatchObject({ source: 'uv.lock', mode: 'pip-locked', count: 14 });
    expect(readDeps(app(withUv), '/usr/local/bin/uv')).toMatchObject({ source: 'uv.lock', mode: 'uv' });
    expect(readDeps(app({ Pipfile: '[packages]\nflask = "*"\ngunicorn = ">=22"\n' }), null)).toMatchObject({
      source: 'Pipfile',
      mode: 'pip',
      pipArgs: ['flask', 'gunicorn>=22'],
    });
  });

  it('builds the install commands as exact argument arrays', () => {
    expect(pipLockedArgv('/v/bin/python', '/v/req.txt')).toEqual([
      '/v/bin/python',
      '-m',
      'pip',
      'install',
      '--no-input',
      '--require-hashes',
      '--no-deps',
      '-r',
      '/v/req.txt',
    ]);
    expect(uvSyncArgv('/usr/bin/uv')).toEqual([
      '/usr/bin/uv',
      'sync',
      '--locked',
      '--no-dev',
      '--no-install-project',
    ]);
  });
});

describe('Python start commands, like Railpack', () => {
  it('Django with gunicorn, FastAPI with uvicorn, Flask with gunicorn, else python <main>', () => {
    const django = app({
      'manage.py': '',
      'requirements.txt': 'Django==5.1\ngunicorn\n',
      'shop/settings.py': 'WSGI_APPLICATION = "shop.wsgi.application"\n',
    });
    expect(pythonStart(django, null, {})).toBe(
      'python manage.py migrate && gunicorn --bind 0.0.0.0:${PORT:-8000} shop.wsgi:application',
    );
    expect(pythonStart(django, null, { RAILPACK_DJANGO_APP_NAME: 'other.wsgi' })).toMatch(
      /gunicorn .* other\.wsgi:application$/,
    );
    const fastapi = app({ 'main.py': '', 'requirements.txt': 'fastapi\nuvicorn[standard]\n' });
    expect(pythonStart(fastapi, 'main.py', {})).toBe('uvicorn main:app --host 0.0.0.0 --port ${PORT:-8000}');
    const flask = app({ 'app.py': '', 'requirements.txt': 'Flask\ngunicorn\n' });
    expect(pythonStart(flask, 'app.py', {})).toBe('gunicorn --bind 0.0.0.0:${PORT:-8000} app:app');
    const flaskDev = app({ 'app.py': '', 'requirements.txt': 'Flask\n' });
    expect(pythonStart(flaskDev, 'app.py', {})).toBe('python app.py');
  });
});

describe("the daemon's pip settings for sandboxed builds", () => {
  it('finds its user-level pip.conf and passes its PIP_* variables', () => {
    const home = app({ '.config/pip/pip.conf': '[global]\nindex-url = https://mirror.example/simple\n' });
    expect(daemonPipConfig({ HOME: home })).toBe(path.join(home, '.config', 'pip', 'pip.conf'));
    expect(daemonPipConfig({ HOME: path.join(home, 'none') })).toBeNull();
    expect(daemonPipVariables({ PIP_FIND_LINKS: '/w', PIP_CONFIG_FILE: '/x', HOME: '/h' })).toEqual({
      PIP_FIND_LINKS: '/w',
    });
  });
});
