/**
 * What the server checks and fixes before it runs anything: the data dir's permissions, and whether users'
 * code can be sandboxed (if not, the one warning saying that it shares the daemon's privileges).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DataPaths } from '../deploy/paths.js';
import { SANDBOX_UID_BASE } from '../deploy/sandbox-users.js';
import {
  findSystemTool,
  probeSandbox,
  type SandboxHost,
  type SandboxMode,
  sandboxDecision,
} from '../runtime/sandbox.js';

/**
 * The data dir becomes 0700 even when it existed before (an older Berth or the operator made it), and the
 * files holding secrets 0600. master.key is left alone: its loader refuses a readable one, saying so.
 */
export function lockDownDataDir(paths: DataPaths): void {
  fs.chmodSync(paths.root, 0o700);
  const secrets = [
    paths.adminToken,
    paths.db,
    `${paths.db}-wal`,
    `${paths.db}-shm`,
    path.join(paths.localCa, 'ca.key'),
  ];
  for (const file of secrets) chmodIfThere(file, 0o600);
  chmodIfThere(paths.localCa, 0o700);
}

function chmodIfThere(file: string, mode: number): void {
  try {
    fs.chmodSync(file, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** The directories user code must not see: the data dir and the daemon's HOME (~/.npmrc, ~/.ssh, ~/.berth). */
export function hiddenDirs(dataDir: string, home: string): string[] {
  return [dataDir, home].filter(
    (d, i, all) => d !== '/' && d !== '' && all.indexOf(d) === i && fs.existsSync(d),
  );
}

/**
 * The sandbox users' code will run in, or null (after warning once) when it cannot be: not root, bubblewrap
 * missing, or bubblewrap unable to make a namespace here (tried once with `true`).
 */
export function setUpSandbox(
  mode: SandboxMode,
  paths: DataPaths,
  warn: (msg: string) => void,
): SandboxHost | null {
  const bwrap = findSystemTool('bwrap');
  const setpriv = findSystemTool('setpriv');
  const decision = sandboxDecision({ mode, isRoot: process.getuid?.() === 0, bwrap, setpriv });
  if (!decision.enabled) {
    warn(decision.warning);
    return null;
  }
  const host: SandboxHost = {
    bwrap: bwrap as string,
    setpriv: setpriv as string,
    hidden: hiddenDirs(paths.root, os.homedir()),
    shared: [path.join(paths.cache, 'package-managers'), path.join(paths.cache, 'runtimes')],
  };
  // bwrap binds only what exists; the tools' entries are published into these by the daemon (0755 each).
  for (const dir of host.shared ?? []) fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  // The users' directories sit below this one: others may cross it, not list it.
  fs.mkdirSync(paths.sandboxUsers, { recursive: true, mode: 0o711 });
  fs.chmodSync(paths.sandboxUsers, 0o711);
  const probeRoot = path.join(paths.sandboxUsers, 'probe');
  fs.mkdirSync(probeRoot, { recursive: true, mode: 0o700 });
  const failed = probeSandbox(host, { uid: SANDBOX_UID_BASE, gid: SANDBOX_UID_BASE, root: probeRoot });
  if (failed) {
    warn(
      `user code shares the daemon's privileges: bubblewrap cannot create a sandbox on this machine (${failed}); builds and apps can read the data dir (admin-token, master.key, the CA's key) and each other's files. Run \`berth server\` as root on a host that allows mount namespaces, or pass --sandbox off to silence this`,
    );
    return null;
  }
  return host;
}
