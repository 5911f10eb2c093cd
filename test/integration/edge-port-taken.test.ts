import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findHaproxy } from '../../src/edge/haproxy/driver.js';
import { freePort } from '../../src/lib/net.js';
import { makeTmpDir } from '../helpers/tmp.js';

/**
 * A server whose HTTP port something else holds refuses to start, and its one-line error names the cause
 * (the edge's own reason, not only "exited with code 1"): both edges.
 */
const BIN = path.resolve('bin/berth');

/** Live processes whose command line names this path (their pids and commands). */
function processesMentioning(dir: string): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmd.includes(dir)) found.push(`${pid} ${cmd}`);
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}
const edges = findHaproxy() === null ? ['builtin'] : ['builtin', 'haproxy'];

describe('a server whose HTTP port is taken', () => {
  let tmp: { dir: string; cleanup: () => void };
  let holder: net.Server;
  let taken: number;
  beforeEach(async () => {
    tmp = makeTmpDir('berth-port-taken-');
    holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, '0.0.0.0', r));
    taken = (holder.address() as net.AddressInfo).port;
  });
  afterEach(async () => {
    await new Promise((r) => holder.close(r));
    tmp.cleanup();
  });

  it.each(edges)('%s: exits 1 saying the address is in use, on its first line', async (edge) => {
    const args = ['server', '--data-dir', path.join(tmp.dir, 'data'), '--api-port', String(await freePort())];
    args.push('--http-port', String(taken), '--https-port', String(await freePort()), '--edge', edge);
    const res = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(BIN, args, { timeout: 60_000 }, (err, _stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }),
      );
    });
    expect(res.code).toBe(1);
    const first = res.stderr.split('\n').find((l) => l.startsWith('Error:')) ?? '';
    expect(first).toContain(`could not start on port ${taken}`);
    expect(first).toMatch(/in use/i);
    // Nothing it started is left running (HAProxy's helper edge was, until the driver stopped it on failure).
    expect(processesMentioning(tmp.dir)).toEqual([]);
  });
});
