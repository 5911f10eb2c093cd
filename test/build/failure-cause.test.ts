import { describe, expect, it } from 'vitest';
import { FailureDigest, isCauseLine, summarizeFailure } from '../../src/core/failure-cause.js';

// Outputs as the real tools print them (npm 11, Node 20, Python 3.11), captured from real runs.
const NPM_404 = `npm error code E404
npm error 404 Not Found - GET https://registry.npmjs.org/expresss-rate-limitr-berth-nope
npm error 404
npm error 404  The requested resource 'expresss-rate-limitr-berth-nope@^1.0.0' could not be found or you do not have permission to access it.
npm error 404
npm error 404 Note that you can also install from a
npm error 404 tarball, folder, http url, or git url.
npm error A complete log of this run can be found in: /root/.npm/_logs/2026-12-06T21_15_58_599Z-debug-0.log`;

const NPM_CI_OUT_OF_SYNC = `npm error code EUSAGE
npm error
npm error \`npm ci\` can only install packages when your package.json and package-lock.json or npm-shrinkwrap.json are in sync. Please update your lock file with \`npm install\` before continuing.
npm error
npm error Missing: left-pad@1.3.0 from lock file
npm error
npm error Clean install a project
npm error
npm error Usage:
npm error npm ci
npm error
npm error   --install-links
npm error     When set file: protocol dependencies will be packed and installed as
npm error
npm error aliases: clean-install, ic, install-clean, isntall-clean
npm error
npm error Run "npm help ci" for more info
npm error A complete log of this run can be found in: /root/.npm/_logs/2026-12-06T21_16_05_739Z-debug-0.log`;

const NODE_THROW = `/app/index.js:3
  if (missing.length) throw new Error(\`Missing environment variables: \${missing.join(', ')}\`);
                      ^

Error: Missing environment variables: DATABASE_URL, SESSION_SECRET
    at loadConfig (/app/index.js:3:29)
    at Object.<anonymous> (/app/index.js:5:1)
    at Module._compile (node:internal/modules/cjs/loader:1521:14)
    at Module._extensions..js (node:internal/modules/cjs/loader:1623:10)
    at Module.load (node:internal/modules/cjs/loader:1266:32)
    at Module._load (node:internal/modules/cjs/loader:1091:12)
    at Function.executeUserEntryPoint [as runMain] (node:internal/modules/run_main:164:12)
    at node:internal/main/run_main_module:28:49

Node.js v20.20.2`;

const NODE_MISSING_MODULE = `node:internal/modules/cjs/loader:1210
  throw err;
  ^

Error: Cannot find module 'express'
Require stack:
- /app/server.js
    at Module._resolveFilename (node:internal/modules/cjs/loader:1207:15)
    at Module._load (node:internal/modules/cjs/loader:1038:27)
    at Module.require (node:internal/modules/cjs/loader:1289:19)
    at require (node:internal/modules/helpers:182:18)
    at Object.<anonymous> (/app/server.js:1:17) {
  code: 'MODULE_NOT_FOUND',
  requireStack: [ '/app/server.js' ]
}

Node.js v20.20.2`;

const PYTHON = `Traceback (most recent call last):
  File "/app/main.py", line 1, in <module>
    import flask
ModuleNotFoundError: No module named 'flask'`;

const lines = (text: string) => text.split('\n');

describe('failure summaries name the cause', () => {
  it('npm: the error lines, not the log-file pointer', () => {
    expect(summarizeFailure(lines(NPM_404))).toBe(
      "npm error 404 Not Found - GET https://registry.npmjs.org/expresss-rate-limitr-berth-nope | npm error 404  The requested resource 'expresss-rate-limitr-berth-nope@^1.0.0' could not be found or you do not have permission to access it. | npm error 404 Note that you can also install from a",
    );
  });

  it('npm ci out of sync: the first error lines and the hint, found above the usage text', () => {
    const s = summarizeFailure(lines(NPM_CI_OUT_OF_SYNC));
    expect(s.startsWith('npm error `npm ci` can only install packages when')).toBe(true);
    expect(s).toContain('npm error Missing: left-pad@1.3.0 from lock file');
    expect(s).toContain(
      '— package.json and package-lock.json disagree: run `npm install` and commit package-lock.json',
    );
  });

  it("an uncaught exception's first line, not its stack", () => {
    expect(summarizeFailure(lines(NODE_THROW))).toBe(
      'Error: Missing environment variables: DATABASE_URL, SESSION_SECRET',
    );
    expect(summarizeFailure(lines(NODE_MISSING_MODULE))).toBe("Error: Cannot find module 'express'");
    expect(summarizeFailure(lines(PYTHON))).toBe("ModuleNotFoundError: No module named 'flask'");
    expect(isCauseLine('TypeError: Cannot read properties of undefined (reading "x")')).toBe(true);
    expect(isCauseLine('Error [ERR_MODULE_NOT_FOUND]: Cannot find package')).toBe(true);
    expect(isCauseLine('    at loadConfig (/app/index.js:3:29)')).toBe(false);
  });

  it('yarn, pnpm and pip error lines are causes', () => {
    for (const l of [
      'error Couldn\'t find package "left-padd@^1.0.0" required by "app@1.0.0" on the "npm" registry.',
      ' ERR_PNPM_OUTDATED_LOCKFILE  Cannot install with "frozen-lockfile" because pnpm-lock.yaml is not up to date',
      '➤ YN0028: The lockfile would have been modified by this install, which is explicitly forbidden.',
      'ERROR: No matching distribution found for flask==99',
    ]) {
      expect(isCauseLine(l), l).toBe(true);
    }
    expect(isCauseLine('error Command failed with exit code 1.')).toBe(false);
  });

  it('falls back to the last lines when nothing names a cause; keeps a bounded part of the output', () => {
    const d = new FailureDigest();
    for (let i = 0; i < 100_000; i++) d.add(`line ${i}`);
    expect(d.summary()).toBe('line 99995 | line 99996 | line 99997 | line 99998 | line 99999');
    expect(new FailureDigest().summary()).toBe('');
  });

  it('hints match anywhere in the output, even far above the end', () => {
    const d = new FailureDigest();
    d.add(' ERR_PNPM_OUTDATED_LOCKFILE  Cannot install with "frozen-lockfile"');
    for (let i = 0; i < 1000; i++) d.add(`noise ${i}`);
    expect(d.summary()).toContain('run `pnpm install` and commit pnpm-lock.yaml');
  });

  it('a migration that creates a missing PostgreSQL extension says where the extension comes from', () => {
    expect(summarizeFailure(['error: extension "vector" is not available'])).toBe(
      'error: extension "vector" is not available — pgvector (extension "vector") is not installed on the Berth server: it comes from PostgreSQL\'s apt repository (apt.postgresql.org) as postgresql-15-pgvector (postgresql-<major>-pgvector for other versions); install it on the server and deploy again',
    );
    const other = summarizeFailure(['error: extension "postgis" is not available']);
    expect(other).toContain('`berth db extensions` lists what it has');
    expect(other).not.toContain('pgvector');
  });
});
