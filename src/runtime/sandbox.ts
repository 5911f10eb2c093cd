/**
 * The sandbox for users' code (builds, preDeployCommands, replicas, cron runs): a bubblewrap mount namespace
 * in which the data dir and the daemon's HOME are empty except the paths the job needs, run as an
 * unprivileged uid of its own (setpriv). Everything here but probeSandbox is pure.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { byCodePoint } from '../lib/order.js';

/** Server-wide: where the tools are, and what user code must not see. */
export interface SandboxHost {
  bwrap: string;
  setpriv: string;
  /** Existing directories replaced by empty ones (the data dir, the daemon's HOME). */
  hidden: string[];
  /**
   * Hidden directories every job sees read-only: the tools the daemon downloaded for builds and apps alike
   * (`<cache>/package-managers`, `<cache>/runtimes`), root-owned and verified against the registry.
   */
  shared?: string[];
}

/** The unprivileged user one service (in one environment) runs as. */
export interface SandboxUser {
  uid: number;
  gid: number;
  /** `<data-dir>/sandbox/<uid>`, owned by uid: holds home/, tmp/ and cache/ (package managers' downloads). */
  root: string;
  /**
   * Root-owned directory with the passwd and group files the sandbox sees as /etc/passwd and /etc/group (the
   * host's plus this user, see accountFiles), so `whoami`, os.userInfo() and libpq find the user. Absent: the
   * host's files, where the uid has no name.
   */
  accounts?: string;
}

/** One run: who it runs as and which hidden paths it sees. */
export interface SandboxJob {
  user: SandboxUser;
  /** Bound read-write at their own path (the user's root is always added). */
  writable: string[];
  /** Bound read-only at their own path. */
  readOnly: string[];
  /** Builds and one-off commands die with the daemon; replicas outlive it on purpose. */
  dieWithParent: boolean;
}

export interface Sandbox {
  host: SandboxHost;
  job: SandboxJob;
}

/** Size cap of the private /tmp (memory-backed); TMPDIR points at the user's disk-backed tmp/. */
export const TMP_TMPFS_BYTES = 256 * 1024 * 1024;

export const userHome = (u: SandboxUser) => path.join(u.root, 'home');
export const userTmp = (u: SandboxUser) => path.join(u.root, 'tmp');
export const userCache = (u: SandboxUser) => path.join(u.root, 'cache');

function inside(dir: string, p: string): boolean {
  return p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

function depth(p: string): number {
  return p.split('/').length;
}

/**
 * The argv that runs `command` (an argv itself) in the sandbox with `cwd` as working directory. Paths keep
 * their real names inside (venvs, shebangs and VIRTUAL_ENV keep working). bwrap stays the parent of the
 * command (and of a pid namespace's init), in the caller's process group: the pid the daemon records and
 * signals is bwrap's, and the command's exit status is bwrap's.
 */
export function sandboxArgv(sb: Sandbox, cwd: string, command: string[]): string[] {
  const { host, job } = sb;
  const hidden = ['/tmp', ...host.hidden.filter((h) => h !== '/tmp' && h !== '/')]
    .map((p) => path.resolve(p))
    .filter((p, i, all) => all.indexOf(p) === i)
    .sort((a, b) => depth(a) - depth(b) || byCodePoint(a, b));
  const argv = [host.bwrap, '--unshare-pid', '--unshare-ipc'];
  if (job.dieWithParent) argv.push('--die-with-parent');
  argv.push('--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev');

  // A mount point inside an emptied directory must be created first, with its parents (bwrap would make
  // missing parents 0700, which the unprivileged uid could not cross).
  const made = new Set<string>();
  const mkdirs = (target: string, mounted: string[]) => {
    const parent = mounted.filter((h) => inside(h, target)).sort((a, b) => depth(b) - depth(a))[0];
    if (!parent) return;
    const missing: string[] = [];
    for (let d = path.dirname(target); d !== parent && inside(parent, d); d = path.dirname(d))
      missing.push(d);
    for (const d of missing.reverse()) {
      if (made.has(d)) continue;
      made.add(d);
      argv.push('--dir', d);
    }
  };

  const mountedSoFar: string[] = [];
  for (const h of hidden) {
    mkdirs(h, mountedSoFar);
    if (h === '/tmp') argv.push('--perms', '1777', '--size', String(TMP_TMPFS_BYTES), '--tmpfs', h);
    else argv.push('--tmpfs', h);
    mountedSoFar.push(h);
  }

  const binds = [
    ...[job.user.root, ...job.writable].map((p) => ({ p: path.resolve(p), rw: true })),
    ...[...job.readOnly, ...(host.shared ?? [])].map((p) => ({ p: path.resolve(p), rw: false })),
  ]
    .filter((b, i, all) => all.findIndex((o) => o.p === b.p) === i)
    .sort((a, b) => depth(a.p) - depth(b.p) || byCodePoint(a.p, b.p));
  for (const b of binds) {
    mkdirs(b.p, hidden);
    argv.push(b.rw ? '--bind' : '--ro-bind', b.p, b.p);
  }

  if (job.user.accounts) {
    for (const f of ['passwd', 'group']) argv.push('--ro-bind', path.join(job.user.accounts, f), `/etc/${f}`);
  }
  argv.push(
    '--chdir',
    cwd,
    '--',
    host.setpriv,
    '--reuid',
    String(job.user.uid),
    '--regid',
    String(job.user.gid),
    '--clear-groups',
    '--inh-caps=-all',
    '--bounding-set=-all',
    '--no-new-privs',
    '--',
    ...command,
  );
  return argv;
}

/** The login name of a sandbox user, in its passwd entry and in USER/LOGNAME. */
export function userName(u: SandboxUser): string {
  return `berth-${u.uid}`;
}

/** /etc/passwd and /etc/group as a sandbox user sees them: the host's, plus its own entries. */
export function accountFiles(
  host: { passwd: string; group: string },
  u: SandboxUser,
): { passwd: string; group: string } {
  const line = (text: string) => (text === '' || text.endsWith('\n') ? text : `${text}\n`);
  const name = userName(u);
  return {
    passwd: `${line(host.passwd)}${name}:x:${u.uid}:${u.gid}:Berth service user:${userHome(u)}:/usr/sbin/nologin\n`,
    group: `${line(host.group)}${name}:x:${u.gid}:\n`,
  };
}

/**
 * The environment of sandboxed code: HOME and TMPDIR of its own user, and PATH without directories the
 * sandbox hides (a runtime in the daemon's HOME, e.g. pyenv shims, does not exist in there).
 */
export function sandboxEnv(env: Record<string, string>, sb: Sandbox): Record<string, string> {
  const bound = [sb.job.user.root, ...sb.job.writable, ...sb.job.readOnly, ...(sb.host.shared ?? [])];
  const name = userName(sb.job.user);
  return {
    ...env,
    PATH: visiblePath(env.PATH ?? '', sb.host, bound),
    HOME: userHome(sb.job.user),
    TMPDIR: userTmp(sb.job.user),
    USER: name,
    LOGNAME: name,
  };
}

/** pathVar without the directories the sandbox hides, except those bound back in. */
export function visiblePath(pathVar: string, host: SandboxHost, bound: string[] = []): string {
  const hidden = ['/tmp', ...host.hidden];
  const visible = (dir: string) =>
    !hidden.some((h) => dir === h || inside(h, dir)) || bound.some((b) => dir === b || inside(b, dir));
  const dirs = pathVar.split(path.delimiter).filter((d) => d !== '' && visible(d));
  return dirs.length > 0 ? dirs.join(path.delimiter) : '/usr/local/bin:/usr/bin:/bin';
}

export type SandboxMode = 'auto' | 'off';

export type SandboxDecision = { enabled: true } | { enabled: false; warning: string };

const SHARES = "user code shares the daemon's privileges";
const CONSEQUENCE =
  "builds and apps can read the data dir (admin-token, master.key, the CA's key) and each other's files";

/** Whether user code can be sandboxed, and if not, the one warning the server gives at start. */
export function sandboxDecision(o: {
  mode: SandboxMode;
  isRoot: boolean;
  bwrap: string | null;
  setpriv: string | null;
}): SandboxDecision {
  if (o.mode === 'off') {
    return {
      enabled: false,
      warning: `${SHARES}: the sandbox is turned off (--sandbox off); ${CONSEQUENCE}`,
    };
  }
  if (!o.isRoot) {
    return {
      enabled: false,
      warning: `${SHARES}: the server does not run as root, so it cannot run them as users of their own; ${CONSEQUENCE}. Run \`berth server\` as root with bubblewrap installed (apt-get install bubblewrap)`,
    };
  }
  if (!o.bwrap) {
    return {
      enabled: false,
      warning: `${SHARES}: bubblewrap (bwrap) is not installed; ${CONSEQUENCE}. Install it (apt-get install bubblewrap) and restart the server`,
    };
  }
  if (!o.setpriv) {
    return {
      enabled: false,
      warning: `${SHARES}: setpriv (util-linux) is not installed; ${CONSEQUENCE}. Install util-linux and restart the server`,
    };
  }
  return { enabled: true };
}

/** The first executable `name` in the usual system directories (never the daemon's HOME), or null. */
export function findSystemTool(name: string): string | null {
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin']) {
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

/** Runs `true` in a sandbox once; null when that works, else why not (a container without mount rights...). */
export function probeSandbox(host: SandboxHost, user: SandboxUser): string | null {
  const argv = sandboxArgv({ host, job: { user, writable: [], readOnly: [], dieWithParent: true } }, '/', [
    '/bin/true',
  ]);
  const res = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 10_000, cwd: '/' });
  if (res.error) return res.error.message;
  if (res.status !== 0) return (res.stderr || `${argv[0]} exited with ${res.status}`).trim().split('\n')[0];
  return null;
}
