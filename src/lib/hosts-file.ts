/**
 * Berth's managed blocks in a hosts file (/etc/hosts by default): how apps resolve private domains such as
 * `api.production.shop.internal` with nothing but the system resolver (glibc and musl read /etc/hosts first).
 *
 * One block per data dir, so several Berth daemons on one machine (tests do this) never clobber each
 * other's names; each block also claims a private net (`127.N`) that only its daemon allocates from:
 *
 *   # berth begin net=127.77 data=/root/.berth
 *   127.77.0.1 api.production.shop.internal
 *   # berth end data=/root/.berth
 *
 * Every change is a read-modify-write under an exclusive lock file next to the hosts file, written to a
 * temporary file and renamed into place (or, where the hosts file is a bind mount that cannot be replaced,
 * rewritten in place). Blocks whose data dir no longer exists are dropped on the way.
 */

import fs from 'node:fs';
import { writeFileAtomic } from './atomic-write.js';
import { delay } from './wait.js';

export interface HostsEntry {
  ip: string;
  names: string[];
}

interface Block {
  dataDir: string;
  net: string;
  lines: string[];
}

const BEGIN = /^# berth begin net=(127\.\d{1,3}) data=(.+)$/;
const END_PREFIX = '# berth end data=';
/** Private nets a daemon may claim: 127.77 first, then upwards. */
const FIRST_NET = 77;
const LAST_NET = 254;
const LOCK_STALE_MS = 10_000;
const LOCK_WAIT_MS = 5_000;

export class HostsFileError extends Error {
  constructor(
    readonly file: string,
    cause: Error,
  ) {
    super(`cannot update ${file}: ${cause.message}`, { cause });
  }
}

function parse(text: string): { before: string[]; blocks: Block[] } {
  const before: string[] = [];
  const blocks: Block[] = [];
  let open: Block | null = null;
  for (const line of text.split('\n')) {
    if (open !== null) {
      if (line === `${END_PREFIX}${open.dataDir}`) {
        blocks.push(open);
        open = null;
      } else {
        open.lines.push(line);
      }
      continue;
    }
    const m = BEGIN.exec(line);
    if (m) open = { net: m[1], dataDir: m[2], lines: [] };
    else before.push(line);
  }
  if (open !== null) blocks.push(open); // an unterminated block (cut-off write) is still ours to replace
  while (before.length > 0 && before[before.length - 1] === '') before.pop();
  return { before, blocks };
}

function render(before: string[], blocks: Block[]): string {
  const out = [...before];
  for (const b of blocks) {
    out.push(`# berth begin net=${b.net} data=${b.dataDir}`, ...b.lines, `${END_PREFIX}${b.dataDir}`);
  }
  return `${out.join('\n')}\n`;
}

async function withLock<T>(file: string, fn: () => T): Promise<T> {
  const lock = `${file}.berth-lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      fs.closeSync(fs.openSync(lock, 'wx', 0o600));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new HostsFileError(file, err as Error);
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs > LOCK_STALE_MS) fs.rmSync(lock, { force: true });
      } catch {
        /* released meanwhile */
      }
      if (Date.now() > deadline) {
        throw new HostsFileError(file, new Error(`${lock} has been held for over ${LOCK_WAIT_MS / 1000}s`));
      }
      await delay(20);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

function read(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new HostsFileError(file, err as Error);
  }
}

function write(file: string, text: string): void {
  let mode = 0o644;
  try {
    mode = fs.statSync(file).mode & 0o777;
  } catch {
    /* new file */
  }
  try {
    writeFileAtomic(file, text, { mode });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A bind-mounted /etc/hosts (containers) cannot be replaced, only rewritten.
    if (code !== 'EBUSY' && code !== 'EXDEV' && code !== 'EPERM')
      throw new HostsFileError(file, err as Error);
    try {
      fs.writeFileSync(file, text);
    } catch (again) {
      throw new HostsFileError(file, again as Error);
    }
  }
}

/** Read-modify-write of the block list under the lock; drops blocks of data dirs that are gone. */
function update(file: string, change: (blocks: Block[]) => Block[]): Promise<void> {
  return withLock(file, () => {
    const text = read(file);
    const { before, blocks } = parse(text);
    const live = blocks.filter((b) => fs.existsSync(b.dataDir));
    const next = render(before, change(live));
    if (next !== text) write(file, next);
  });
}

/**
 * The private net (`127.N`) of the daemon owning dataDir: the one its block already claims, else
 * `preferred` when nobody else claims it, else the lowest free one. Claims it by writing an (empty) block.
 */
export async function claimPrivateNet(
  file: string,
  dataDir: string,
  preferred?: string | null,
  listening: () => Set<string> = listeningLoopbackNets,
): Promise<string> {
  let net = '';
  await update(file, (blocks) => {
    const own = blocks.find((b) => b.dataDir === dataDir);
    if (own) {
      net = own.net;
      return blocks;
    }
    // Nets claimed in this file, and nets something on this machine already listens in (another Berth
    // keeping its names elsewhere, or anything else using 127.N addresses).
    const taken = new Set([...blocks.map((b) => b.net), ...listening()]);
    if (preferred && !taken.has(preferred)) net = preferred;
    for (let n = FIRST_NET; net === '' && n <= LAST_NET; n++) {
      if (!taken.has(`127.${n}`)) net = `127.${n}`;
    }
    if (net === '') throw new Error(`every private net 127.${FIRST_NET}-127.${LAST_NET} is claimed`);
    return [...blocks, { dataDir, net, lines: [] }];
  });
  return net;
}

/** `127.N` nets with a listening TCP socket on this machine, from /proc/net/tcp (empty where unreadable). */
export function listeningLoopbackNets(procFile = '/proc/net/tcp'): Set<string> {
  const nets = new Set<string>();
  let text = '';
  try {
    text = fs.readFileSync(procFile, 'utf8');
  } catch {
    return nets;
  }
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // local_address is little-endian hex "DDCCBBAA:PORT"; st 0A = LISTEN.
    if (f.length < 4 || f[3] !== '0A' || !f[1].includes(':')) continue;
    const hex = f[1].split(':')[0];
    if (hex.length !== 8 || hex.slice(6, 8).toUpperCase() !== '7F') continue;
    const second = Number.parseInt(hex.slice(4, 6), 16);
    if (second !== 0) nets.add(`127.${second}`);
  }
  return nets;
}

/** Replaces dataDir's block with these entries (claiming `net` if it had no block). */
export function writeHostsBlock(
  file: string,
  dataDir: string,
  net: string,
  entries: HostsEntry[],
): Promise<void> {
  const lines = entries.map((e) => `${e.ip} ${e.names.join(' ')}`);
  const mine: Block = { dataDir, net, lines };
  return update(file, (blocks) =>
    blocks.some((b) => b.dataDir === dataDir)
      ? blocks.map((b) => (b.dataDir === dataDir ? mine : b))
      : [...blocks, mine],
  );
}

/** Removes dataDir's block, releasing its net. */
export function removeHostsBlock(file: string, dataDir: string): Promise<void> {
  return update(file, (blocks) => blocks.filter((b) => b.dataDir !== dataDir));
}
