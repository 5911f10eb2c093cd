/**
 * Why a build step, pre-deploy command or replica failed, from its output: the lines that name the
 * cause (package managers' error lines, an uncaught exception's first line) and Berth's hints for known
 * failures, instead of the last lines of a stack trace. Holds a bounded amount of the output.
 */

/** Lines kept from the end of the output (the fallback when no line names a cause). */
const RING_LINES = 40;
/** Cause lines remembered (the first ones: later ones are usually consequences). */
const MAX_CAUSES = 12;
/** Cause lines shown in a summary. */
const SHOWN_CAUSES = 3;
/** Lines shown when no cause was recognised. */
const SHOWN_TAIL = 5;
const MAX_LINE = 300;

/** Lines that name why a command failed, in the forms the common toolchains print them. */
const CAUSE_PATTERNS: RegExp[] = [
  /^npm (?:ERR!|error) /, // npm 6–11
  /ERR_PNPM_[A-Z_]+/, // pnpm
  /^error(?: |:)/, // yarn 1 ("error Couldn't find package…"), cargo, pip's "error: …"
  /\bYN0\d{3}: .*(?:error|fail|forbidden|not found|doesn't|does not|must)/i, // yarn berry
  /^ERROR: /, // pip
  /\berror TS\d+: /, // tsc
  /\[ERROR\]/, // esbuild, vite
  // An uncaught exception's first line: Node ("Error: Cannot find module 'x'", "TypeError: …",
  // "Error [ERR_MODULE_NOT_FOUND]: …"), Python's last traceback line ("ModuleNotFoundError: …").
  /^\s*(?:Uncaught )?(?:[A-Za-z_$][\w$.]*)?(?:Error|Exception)(?: \[[\w-]+\])?: \S/,
  /missing (?:required )?environment variables?/i,
  /^(?:panic|fatal(?: error)?): /i, // Go, git
];

/** Error-looking lines that only point elsewhere (npm's log file, the exit code again). */
const NOISE_PATTERNS: RegExp[] = [
  /A complete log of this run can be found in/,
  /\/_logs\/\S+-debug/,
  /^npm (?:ERR!|error)\s*$/,
  /^error Command failed with exit code \d+/,
  /^npm (?:ERR!|error) (?:code|errno) /,
  /^npm (?:ERR!|error) (?:path|command|cwd|syscall) /,
  /^npm (?:ERR!|error) \d{3}\s*$/,
  // The source line Node prints above an uncaught exception repeats its message as code.
  /^\s*throw\b/,
  /\bnew [\w$.]*Error\(/,
];

/** Known failures and what to do about them, matched against every line of the output. */
const HINTS: { pattern: RegExp; hint: string }[] = [
  {
    pattern: /can only install packages when your package\.json and package-lock\.json.*are in sync/,
    hint: 'package.json and package-lock.json disagree: run `npm install` and commit package-lock.json',
  },
  {
    pattern: /npm ci.*(?:requires|can only install).*(?:package-lock\.json|npm-shrinkwrap\.json)/,
    hint: '`npm ci` needs a lockfile: run `npm install` and commit package-lock.json',
  },
  {
    pattern: /ERR_PNPM_OUTDATED_LOCKFILE|ERR_PNPM_LOCKFILE_CONFIG_MISMATCH/,
    hint: 'pnpm-lock.yaml is out of date with package.json: run `pnpm install` and commit pnpm-lock.yaml',
  },
  {
    pattern: /Your lockfile needs to be updated|YN0028: /,
    hint: 'yarn.lock is out of date with package.json: run `yarn install` and commit yarn.lock',
  },
  {
    pattern: /No compatible signature found|Cannot find matching keyid/,
    hint: "corepack's signature check failed: pin a current version in package.json's packageManager field",
  },
  {
    pattern: /ENOSPC|No space left on device/,
    hint: "the server's disk is full: free space (berth status shows it) and deploy again",
  },
  {
    pattern: /EADDRINUSE/,
    hint: 'the port is taken: listen on the PORT variable Berth sets',
  },
  {
    pattern: /extension "vector" is not available|extension\/vector\.control/,
    hint: 'pgvector (extension "vector") is not installed on the Berth server: it comes from PostgreSQL\'s apt repository (apt.postgresql.org) as postgresql-15-pgvector (postgresql-<major>-pgvector for other versions); install it on the server and deploy again',
  },
  {
    pattern: /extension "(?!vector")[^"]+" is not available/,
    hint: 'a PostgreSQL extension the app creates is not installed on the Berth server: `berth db extensions` lists what it has and where to get well-known ones it lacks',
  },
  {
    pattern: /No matching distribution found for|Could not find a version that satisfies the requirement/,
    hint: 'a Python requirement is not available from the package index this server uses',
  },
];

function clip(line: string): string {
  const t = line.trim();
  return t.length > MAX_LINE ? `${t.slice(0, MAX_LINE)}…` : t;
}

export function isCauseLine(line: string): boolean {
  const t = line.trimEnd();
  return CAUSE_PATTERNS.some((p) => p.test(t)) && !NOISE_PATTERNS.some((p) => p.test(t));
}

/** Fed a command's output line by line; summary() says why it failed. */
export class FailureDigest {
  private readonly ring: string[] = [];
  private readonly causes: string[] = [];
  private readonly hints = new Set<string>();

  add(line: string): void {
    if (line.trim() === '') return;
    this.ring.push(line);
    if (this.ring.length > RING_LINES) this.ring.shift();
    if (this.causes.length < MAX_CAUSES && isCauseLine(line)) {
      const c = clip(line);
      if (!this.causes.includes(c)) this.causes.push(c);
    }
    for (const h of HINTS) if (h.pattern.test(line)) this.hints.add(h.hint);
  }

  addAll(lines: Iterable<string>): this {
    for (const l of lines) this.add(l);
    return this;
  }

  get empty(): boolean {
    return this.ring.length === 0;
  }

  /** The cause lines (else the last lines), then Berth's hints; '' when there was no output. */
  summary(): string {
    const lines =
      this.causes.length > 0 ? this.causes.slice(0, SHOWN_CAUSES) : this.ring.slice(-SHOWN_TAIL).map(clip);
    const parts = [lines.join(' | '), ...this.hints].filter((p) => p !== '');
    return parts.join(' — ');
  }
}

/** The summary of a finished command's output. */
export function summarizeFailure(lines: Iterable<string>): string {
  return new FailureDigest().addAll(lines).summary();
}
