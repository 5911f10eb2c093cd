import fs from 'node:fs';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { BuildError } from '../core/errors.js';
import { FailureDigest } from '../core/failure-cause.js';
import type { ServiceConfig } from '../core/model.js';
import type { JobGroups } from '../runtime/job-groups.js';
import type { SandboxHost, SandboxUser } from '../runtime/sandbox.js';
import { spawnGroup } from '../runtime/spawn-group.js';
import type { BuildRequest } from './types.js';

export type BuildLog = BuildRequest['log'];

/** Everything a provider needs to run one build; built once by index.ts. */
export interface BuildContext {
  appDir: string;
  cacheDir: string;
  config: ServiceConfig;
  /** The service's variables (req.env). */
  userEnv: Record<string, string>;
  /** The few host variables builds need (PATH, HOME, locale, certificates, ...). */
  hostEnv: Record<string, string>;
  log: BuildLog;
  /** Aborts on req.signal or when the build's time limit passes. */
  signal: AbortSignal;
  /** False when NO_CACHE=1 is among the service's variables. */
  useCache: boolean;
  /** Where each command's process group is recorded while it runs (req.jobs). */
  jobs?: JobGroups;
  /** Run the build's commands as this user in a sandbox (req.sandbox); null: as the daemon's user. */
  sandbox: { host: SandboxHost; user: SandboxUser } | null;
  /** Package managers' download caches (npm, pip, pnpm, yarn, corepack): the user's own when sandboxed. */
  downloadCacheDir: string;
  /** An install command that replaces the provider's (RAILPACK_INSTALL_CMD, railpack.json, nixpacks.toml). */
  installCommand?: { command: string; from: string } | null;
  /** The host's settings written for this build (host-files.ts): every sandboxed command sees them read-only. */
  hostFiles: string[];
}

/** Host variables passed through to build commands; everything else in process.env stays out. */
const HOST_ENV_KEYS = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LANGUAGE',
  'LC_ALL',
  'LC_CTYPE',
  'TZ',
  'TMPDIR',
  'TMP',
  'TEMP',
  'PYENV_ROOT',
  'PYENV_VERSION',
  'COREPACK_HOME',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'NODE_EXTRA_CA_CERTS',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
];

export function hostEnvFrom(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of HOST_ENV_KEYS) {
    const v = env[key];
    if (v !== undefined) out[key] = v;
  }
  if (!out.PATH) out.PATH = '/usr/local/bin:/usr/bin:/bin';
  return out;
}

/** The PATH the app sees before Berth prepends its own bin dirs. */
export function basePath(ctx: BuildContext): string {
  return ctx.userEnv.PATH || ctx.hostEnv.PATH || '/usr/local/bin:/usr/bin:/bin';
}

/** Environment of a build command: host basics < service variables < runtimeEnv < step extras. */
export function commandEnv(
  ctx: BuildContext,
  runtimeEnv: Record<string, string>,
  extra: Record<string, string> = {},
): Record<string, string> {
  return { ...ctx.hostEnv, ...ctx.userEnv, ...runtimeEnv, ...extra };
}

/** Absolute path of an executable named `name` on PATH, or null. */
export function which(name: string, pathVar: string): string | null {
  for (const dir of pathVar.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      const st = fs.statSync(candidate);
      if (!st.isFile()) continue;
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      /* not here */
    }
  }
  return null;
}

/** Quotes a word for `sh -c` only when it needs it (used for start commands built from package.json). */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_\-./@:+=,%]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export interface RunOptions {
  env: Record<string, string>;
  /** Defaults to ctx.appDir. */
  cwd?: string;
  /** How the command is named in logs and errors; defaults to the argv joined with spaces. */
  display?: string;
  /** Collect stdout and return it instead of logging it (stderr is still logged). */
  capture?: boolean;
  /**
   * Berth's own file work on paths it chose (cp of the dependency cache): runs as the daemon even when the
   * build is sandboxed. Never for anything that runs the app's code or scripts.
   */
  asDaemon?: boolean;
  /** Hidden paths besides appDir this command may write (sandboxed builds). */
  writable?: string[];
  /** Hidden paths this command may read (sandboxed builds). */
  readOnly?: string[];
}

/** A line longer than this is cut, so a runaway progress bar cannot eat memory. */
const MAX_LINE = 8192;

class LineSplitter {
  private decoder = new StringDecoder('utf8');
  private buf = '';

  constructor(private readonly emit: (line: string) => void) {}

  write(chunk: Buffer): void {
    this.buf += this.decoder.write(chunk);
    let nl = this.buf.indexOf('\n');
    while (nl !== -1) {
      this.emitLine(this.buf.slice(0, nl));
      this.buf = this.buf.slice(nl + 1);
      nl = this.buf.indexOf('\n');
    }
    if (this.buf.length > MAX_LINE) {
      this.emitLine(this.buf);
      this.buf = '';
    }
  }

  end(): void {
    this.buf += this.decoder.end();
    if (this.buf.length > 0) this.emitLine(this.buf);
    this.buf = '';
  }

  private emitLine(line: string): void {
    const clean = line.endsWith('\r') ? line.slice(0, -1) : line;
    this.emit(clean.length > MAX_LINE ? clean.slice(0, MAX_LINE) : clean);
  }
}

function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* group already gone */
  }
}

/**
 * Runs argv[0] with argv[1..] in its own process group and resolves when it exits 0 (with its stdout
 * when opts.capture). Rejects with a BuildError naming the command and its last output lines on a
 * non-zero exit. When ctx.signal aborts, kills the whole group and rejects (index.ts turns that into the
 * timeout or cancellation message).
 */
export function run(ctx: BuildContext, argv: string[], opts: RunOptions): Promise<string> {
  const display = opts.display ?? argv.join(' ');
  return new Promise<string>((resolve, reject) => {
    if (ctx.signal.aborted) {
      reject(new BuildError(`"${display}" was not started: the build was stopped`));
      return;
    }
    // Why it failed is matched against the whole output, keeping only a bounded part of it.
    const digest = new FailureDigest();
    const captured: string[] = [];
    const remember = (line: string) => digest.add(line);
    const out = new LineSplitter((line) => {
      remember(line);
      if (opts.capture) captured.push(line);
      else ctx.log(line, 'stdout');
    });
    const err = new LineSplitter((line) => {
      remember(line);
      ctx.log(line, 'stderr');
    });

    const cwd = opts.cwd ?? ctx.appDir;
    const sandbox =
      ctx.sandbox && !opts.asDaemon
        ? {
            host: ctx.sandbox.host,
            job: {
              user: ctx.sandbox.user,
              writable: [ctx.appDir, ...(opts.writable ?? [])],
              readOnly: [...ctx.hostFiles, ...(opts.readOnly ?? [])],
              dieWithParent: true,
            },
          }
        : null;
    const child = spawnGroup({
      program: { argv },
      cwd,
      env: opts.env,
      sandbox,
      stdio: ['ignore', 'pipe', 'pipe'],
    });

    if (child.pid !== undefined) ctx.jobs?.track(child.pid);
    let settled = false;
    let exited = false;
    let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let closeFallback: NodeJS.Timeout | undefined;

    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      if (child.pid !== undefined) ctx.jobs?.untrack(child.pid);
      ctx.signal.removeEventListener('abort', onAbort);
      if (closeFallback) clearTimeout(closeFallback);
      fn();
    };

    const onAbort = () => {
      killGroup(child.pid);
      child.stdout?.destroy();
      child.stderr?.destroy();
      finish(() => reject(new BuildError(`"${display}" was stopped`)));
    };
    ctx.signal.addEventListener('abort', onAbort, { once: true });

    child.stdout?.on('data', (chunk: Buffer) => out.write(chunk));
    child.stderr?.on('data', (chunk: Buffer) => err.write(chunk));

    child.on('error', (e: NodeJS.ErrnoException) => {
      if (exited) return;
      const why =
        e.code === 'ENOENT'
          ? `"${argv[0]}" was not found on PATH or the working directory is missing`
          : e.message;
      finish(() => reject(new BuildError(`could not run "${display}": ${why}`)));
    });

    let completed = false;
    const complete = () => {
      if (completed) return;
      completed = true;
      out.end();
      err.end();
      const info = exitInfo ?? { code: null, signal: null };
      finish(() => {
        if (info.code === 0) {
          resolve(captured.join('\n'));
          return;
        }
        const how = info.signal ? `was killed by ${info.signal}` : `exited with code ${info.code}`;
        const last = digest.empty ? ' (no output)' : `: ${digest.summary()}`;
        reject(new BuildError(`"${display}" ${how}${last}`));
      });
    };

    child.on('exit', (code, signal) => {
      exited = true;
      exitInfo = { code, signal };
      // Anything the command left running in its group (a stray background job) goes with it;
      // then the pipes close. If something escaped the group and holds them, do not wait forever.
      killGroup(child.pid);
      closeFallback = setTimeout(complete, 2000);
    });
    child.on('close', () => {
      if (exited) complete();
    });
  });
}

/** The user's own buildCommand: the only string that goes through a shell. */
export function runShell(
  ctx: BuildContext,
  command: string,
  env: Record<string, string>,
  binds: Pick<RunOptions, 'readOnly' | 'writable'> = {},
): Promise<string> {
  return run(ctx, ['sh', '-c', command], { env, display: command, ...binds });
}
