/**
 * The optional Debian packages some tests need (README: "Optional Debian packages"), found the way Berth finds
 * them. A test that needs one skips without it, its title saying which package and how to install it; CI
 * installs them all and `.ci/without-optional` runs these tests with them hidden.
 */
import fs from 'node:fs';
import { findPgTools } from '../../src/backup/pg-tools.js';
import { which } from '../../src/build/exec.js';
import { findPostgres } from '../../src/data/postgres/binaries.js';
import { findPgbouncer } from '../../src/data/postgres/pgbouncer.js';
import { findRedis } from '../../src/data/redis/binaries.js';
import { edgeEnv } from '../../src/edge/allocator.js';
import { findHaproxy } from '../../src/edge/haproxy/find.js';
import { CgroupHost } from '../../src/runtime/cgroup-host.js';
import { findSystemTool } from '../../src/runtime/sandbox.js';

export type OptionalPackage =
  | 'haproxy'
  | 'pebble'
  | 'bubblewrap'
  | 'golang-go'
  | 'libjemalloc2'
  | 'postgresql'
  | 'redis-server'
  | 'pgbouncer'
  | 'awscli'
  | 'rclone'
  | 's3cmd';

const PATH = () => process.env.PATH ?? '';

const FOUND: Record<OptionalPackage, () => boolean> = {
  haproxy: () => findHaproxy() !== null,
  pebble: () => which('pebble', PATH()) !== null,
  bubblewrap: () => findSystemTool('bwrap') !== null && findSystemTool('setpriv') !== null,
  'golang-go': () => which('go', PATH()) !== null,
  // Installed and not switched off (BERTH_EDGE_JEMALLOC=0): what the edge will run on.
  libjemalloc2: () => (edgeEnv(process.env).LD_PRELOAD ?? '').includes('libjemalloc'),
  // The server (postgres, initdb, pg_ctl, pg_isready) and the client tools backups use (pg_dump, pg_restore, psql).
  postgresql: () => findPostgres() !== null && hasPgTools(),
  // With redis-cli (redis-tools, which the redis-server package depends on) for `berth connect`.
  'redis-server': () => findRedis() !== null && findSystemTool('redis-cli') !== null,
  pgbouncer: () => findPgbouncer() !== null,
  // Debian's aws, not a pyenv shim that may come first on PATH (the object store's tests drive these clients).
  awscli: () => isExecutable(AWS_CLI),
  rclone: () => which('rclone', PATH()) !== null,
  s3cmd: () => which('s3cmd', PATH()) !== null,
};

/** Debian's awscli. */
export const AWS_CLI = '/usr/bin/aws';

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).size > 0;
  } catch {
    return false;
  }
}

function hasPgTools(): boolean {
  try {
    findPgTools();
    return true;
  } catch {
    return false;
  }
}

export function installed(pkg: OptionalPackage): boolean {
  return FOUND[pkg]();
}

/** Whether the server sandboxes users' code here, as `--sandbox auto` decides: root, with bubblewrap. */
export const sandboxed = process.getuid?.() === 0 && installed('bubblewrap');

/**
 * For `describe.skipIf(skip)(title, …)`: skip is true without the package, and the title then says why, e.g.
 * "HTTPS … (skipped: needs pebble, not installed; apt-get install pebble)".
 */
export function needs(pkg: OptionalPackage, title: string): { skip: boolean; title: string } {
  const skip = !installed(pkg);
  return {
    skip,
    title: skip ? `${title} (skipped: needs ${pkg}, not installed; apt-get install ${pkg})` : title,
  };
}

/** The same for several packages: skipped when any is missing, the title naming the first one. */
export function needsAll(pkgs: OptionalPackage[], title: string): { skip: boolean; title: string } {
  const missing = pkgs.find((p) => !installed(p));
  return missing ? needs(missing, title) : { skip: false, title };
}

/** The same for the sandbox, which needs bubblewrap and a server running as root. */
export function needsSandbox(title: string): { skip: boolean; title: string } {
  if (sandboxed) return { skip: false, title };
  const why = process.getuid?.() === 0 ? 'bubblewrap, not installed; apt-get install bubblewrap' : 'root';
  return { skip: true, title: `${title} (skipped: needs the sandbox: ${why})` };
}

/**
 * The same for cgroups: skipped where the server could not enforce memory, CPU and process limits (not root, no
 * writable hierarchy), the title giving the server's own reason.
 */
export function needsCgroups(title: string): { skip: boolean; title: string } {
  const host = CgroupHost.open();
  if (!('why' in host)) return { skip: false, title };
  return { skip: true, title: `${title} (skipped: cgroups are unusable here: ${host.why})` };
}
