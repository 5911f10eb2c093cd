/**
 * HAProxy's runtime API over a unix socket, in non-interactive mode: one connection per batch of
 * commands (separated by `;`), HAProxy answers and closes. Used on the worker's stats socket (server
 * state, stats) and on the master CLI (reload, process list, old workers' stats via `@!<pid>`).
 */

import net from 'node:net';

/** Sends `commands` (joined with `;`) and resolves with everything HAProxy wrote before closing. */
export function runtimeCommand(
  socketPath: string,
  commands: string | string[],
  timeoutMs = 5000,
): Promise<string> {
  const line = Array.isArray(commands) ? commands.join('; ') : commands;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = net.connect(socketPath);
    const timer = setTimeout(
      () => sock.destroy(new Error(`HAProxy did not answer "${line.slice(0, 80)}" within ${timeoutMs} ms`)),
      timeoutMs,
    );
    sock.on('connect', () => sock.end(`${line}\n`));
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`HAProxy socket ${socketPath}: ${err.message}`), { cause: err }));
    });
    sock.on('close', (hadError) => {
      clearTimeout(timer);
      if (!hadError) resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** Per server line of `show stat`: what waitIdle and stats need. */
export interface ServerStat {
  backend: string;
  server: string;
  /** "host:port" as HAProxy reports it. */
  addr: string;
  /** Current sessions (requests in flight and open tunnels). */
  scur: number;
  /** Sessions ever. */
  stot: number;
  /** "no check", "UP", "DRAIN", "MAINT", ... */
  status: string;
}

/** Parses `show stat` CSV (header line `# pxname,svname,...`), server rows only. */
export function parseShowStat(csv: string): ServerStat[] {
  const lines = csv.split('\n');
  const header = lines.find((l) => l.startsWith('# '));
  if (!header) throw new Error(`unexpected "show stat" answer: ${csv.slice(0, 200)}`);
  const cols = header.slice(2).split(',');
  const at = (name: string) => {
    const i = cols.indexOf(name);
    if (i < 0) throw new Error(`"show stat" has no ${name} column`);
    return i;
  };
  const [px, sv, scur, stot, status, addr] = ['pxname', 'svname', 'scur', 'stot', 'status', 'addr'].map(at);
  const out: ServerStat[] = [];
  for (const l of lines) {
    if (l === '' || l.startsWith('#')) continue;
    const f = l.split(',');
    if (f[sv] === 'FRONTEND' || f[sv] === 'BACKEND') continue;
    out.push({
      backend: f[px],
      server: f[sv],
      addr: f[addr] ?? '',
      scur: Number(f[scur]) || 0,
      stot: Number(f[stot]) || 0,
      status: f[status] ?? '',
    });
  }
  return out;
}

export interface ProcList {
  master: { pid: number; reloads: number; failedReloads: number };
  workers: number[];
  oldWorkers: number[];
}

/** Parses the master CLI's `show proc`. */
export function parseShowProc(text: string): ProcList {
  let section: 'master' | 'workers' | 'old' | 'other' = 'master';
  const list: ProcList = { master: { pid: 0, reloads: 0, failedReloads: 0 }, workers: [], oldWorkers: [] };
  for (const line of text.split('\n')) {
    if (line.startsWith('# workers')) section = 'workers';
    else if (line.startsWith('# old workers')) section = 'old';
    else if (line.startsWith('# programs')) section = 'other';
    if (line.startsWith('#') || line.trim() === '') continue;
    const f = line.trim().split(/\s+/);
    const pid = Number(f[0]);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    if (section === 'master' && f[1] === 'master') {
      const failed = /\[failed: (\d+)\]/.exec(line);
      list.master = { pid, reloads: Number(f[2]) || 0, failedReloads: failed ? Number(failed[1]) : 0 };
    } else if (section === 'workers' && f[1] === 'worker') list.workers.push(pid);
    else if (section === 'old' && f[1] === 'worker') list.oldWorkers.push(pid);
  }
  if (list.master.pid === 0) throw new Error(`unexpected "show proc" answer: ${text.slice(0, 200)}`);
  return list;
}

/**
 * Throws when a `set server` batch reported anything but success. HAProxy answers an address change
 * with "IP changed from ..." / "no need to change the addr ..." and a state change with nothing.
 */
export function checkSetServerAnswer(answer: string): void {
  const bad = answer
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/changed from|no need to change/.test(l));
  if (bad.length > 0) throw new Error(`HAProxy refused a server change: ${bad.join(' / ')}`);
}
