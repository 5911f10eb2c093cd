/**
 * Which unprivileged user a service runs as in an environment, and what its sandboxed runs may see.
 * The uid comes from the store (stable across restarts, never reused); its directories live under the data dir.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { BuildResult } from '../build/types.js';
import type { Deployment } from '../core/model.js';
import { writeFileAtomic } from '../lib/atomic-write.js';
import type { Sandbox, SandboxHost, SandboxUser } from '../runtime/sandbox.js';
import { accountFiles, userCache, userHome, userTmp } from '../runtime/sandbox.js';
import type { Store } from '../store/store.js';
import type { DataPaths } from './paths.js';

/** Sandbox uids (and gids) are SANDBOX_UID_BASE + n: above the ranges /etc/subuid usually hands out. */
export const SANDBOX_UID_BASE = 2_000_000;
export const SANDBOX_UID_COUNT = 1_000_000;

export class SandboxUsers {
  /** uid -> the host's passwd/group (mtime, size) its account files were last written from. */
  private readonly accountsFrom = new Map<number, string>();

  /** host is null when user code runs unsandboxed (see runtime/sandbox.ts sandboxDecision). */
  constructor(
    private readonly store: Store,
    private readonly paths: DataPaths,
    readonly host: SandboxHost | null,
  ) {}

  /** The user of a service in an environment, its directories made; null when the sandbox is off. */
  userOf(serviceId: string, environmentId: string): SandboxUser | null {
    if (!this.host) return null;
    const seq = this.store.sandboxUsers.seq(serviceId, environmentId);
    if (seq >= SANDBOX_UID_COUNT) {
      throw new Error(`no sandbox user left: all ${SANDBOX_UID_COUNT} numbers have been handed out`);
    }
    const uid = SANDBOX_UID_BASE + seq;
    const user = {
      uid,
      gid: uid,
      root: this.paths.sandboxUser(uid),
      accounts: this.paths.sandboxAccounts(uid),
    };
    prepareUserDirs(user);
    const hostFiles = hostAccountsSignature();
    if (this.accountsFrom.get(uid) !== hostFiles) {
      writeAccounts(user);
      this.accountsFrom.set(uid, hostFiles);
    }
    return user;
  }

  /** What a build of d runs as; null when the sandbox is off. */
  forBuild(d: Deployment): { host: SandboxHost; user: SandboxUser } | null {
    const user = this.userOf(d.serviceId, d.environmentId);
    return this.host && user ? { host: this.host, user } : null;
  }

  /**
   * The sandbox of a replica, cron run or preDeployCommand of d: its app/ read-write (writable, as on Railway;
   * changes stay in this build's tree), the cached virtualenv it runs from read-only.
   */
  forRuntime(d: Deployment, artifact: BuildResult, dieWithParent: boolean): Sandbox | undefined {
    const user = this.userOf(d.serviceId, d.environmentId);
    if (!this.host || !user || !d.artifactPath) return undefined;
    const appDir = path.join(d.artifactPath, 'app');
    const venv = artifact.runtimeEnv.VIRTUAL_ENV;
    const readOnly = venv && !venv.startsWith(`${appDir}${path.sep}`) ? [venv] : [];
    return { host: this.host, job: { user, writable: [appDir], readOnly, dieWithParent } };
  }
}

/** Changes when the host's /etc/passwd or /etc/group does: two stats instead of reading four files per job. */
function hostAccountsSignature(): string {
  const sig = (f: string) => {
    try {
      const st = fs.statSync(f);
      return `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      return '-';
    }
  };
  return `${sig('/etc/passwd')}|${sig('/etc/group')}`;
}

/**
 * The user's passwd and group files (root-owned, outside its own writable root), rewritten when the host's
 * changed. A host without readable files gets files holding the user alone.
 */
function writeAccounts(user: SandboxUser & { accounts: string }): void {
  const read = (f: string) => {
    try {
      return fs.readFileSync(f, 'utf8');
    } catch {
      return '';
    }
  };
  const files = accountFiles({ passwd: read('/etc/passwd'), group: read('/etc/group') }, user);
  fs.mkdirSync(user.accounts, { recursive: true, mode: 0o755 });
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(user.accounts, name);
    if (read(file) !== text) writeFileAtomic(file, text, { mode: 0o644 });
  }
}

/** <root>/{home,tmp,cache}, 0700 and owned by the user (idempotent: cheap enough to run before every job). */
function prepareUserDirs(user: SandboxUser): void {
  fs.mkdirSync(path.dirname(user.root), { recursive: true, mode: 0o711 });
  for (const dir of [user.root, userHome(user), userTmp(user), userCache(user)]) ownDir(dir, user);
}

/**
 * Makes dir a real directory owned by the user. home/, tmp/ and cache/ sit in the user's writable root, so its
 * code may have replaced one with a symlink (to /etc, to the data dir): that is removed, never followed, and
 * the chown is an lchown, so root never hands over what a link points at (not even if it is swapped meanwhile).
 */
function ownDir(dir: string, user: SandboxUser): void {
  let st: fs.Stats | null = null;
  try {
    st = fs.lstatSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (st?.isDirectory()) {
    if (st.uid === user.uid && st.gid === user.gid) return;
  } else {
    if (st) fs.rmSync(dir, { force: true });
    fs.mkdirSync(dir, { mode: 0o700 });
  }
  fs.lchownSync(dir, user.uid, user.gid);
}
