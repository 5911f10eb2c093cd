/**
 * Every service's address is on 127.0.0.1, so any local client (another tenant's app) can connect to a sleeping
 * service's wake listener. It used to hold every connection while the service woke: a flood of connections held
 * as many descriptors of the daemon. It now holds at most DEFAULT_MAX_HELD (256); more are closed at once, and
 * the held ones are still served after the wake.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/lib/wait.js';
import { DEFAULT_MAX_HELD } from '../../src/lib/wake-listener.js';
import { killGroup } from '../helpers/tmp.js';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const FLOOD = DEFAULT_MAX_HELD + 64;

/**
 * A daemon of its own, so its descriptors can be counted apart from the test's: it opens a WakeListener (the
 * compiled one, as the daemon runs it) whose wake waits for a line on stdin, then sends the held connections to
 * an echo server in the same process.
 */
const DAEMON = `
import net from 'node:net';
import readline from 'node:readline';
import { WakeListener } from ${JSON.stringify(pathToFileURL(path.join(repoRoot, 'dist/lib/wake-listener.js')).href)};
const echo = net.createServer((s) => s.on('data', (b) => s.write('awake:' + b)));
await new Promise((r) => echo.listen(0, '127.0.0.1', r));
let wake;
const woken = new Promise((r) => { wake = r; });
readline.createInterface({ input: process.stdin }).on('line', () => wake());
const listener = await WakeListener.open({
  host: '127.0.0.1',
  port: 0,
  releaseOnWake: false,
  wake: async () => {
    process.stdout.write('waking\\n');
    await woken;
    return [{ host: '127.0.0.1', port: echo.address().port }];
  },
  onWakeFailed: (err) => process.stdout.write('failed ' + err + '\\n'),
});
process.stdout.write('port ' + listener.port + '\\n');
`;

/** A flooding client's connection: open until the listener closes it. */
interface Conn {
  sock: net.Socket;
  closed: boolean;
  text: string;
}

function connect(port: number): Promise<Conn> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const c: Conn = { sock, closed: false, text: '' };
    sock.on('data', (b) => {
      c.text += String(b);
    });
    sock.on('close', () => {
      c.closed = true;
    });
    sock.on('error', () => undefined);
    sock.once('connect', () => resolve(c));
    sock.once('close', () => resolve(c));
  });
}

const descriptors = (pid: number) => fs.readdirSync(`/proc/${pid}/fd`).length;

describe('wake listener flood', () => {
  let daemon: ChildProcessWithoutNullStreams | null = null;
  const conns: Conn[] = [];
  afterEach(() => {
    for (const c of conns.splice(0)) c.sock.destroy();
    if (daemon?.pid) killGroup(daemon.pid);
    daemon = null;
  });

  it("a client flooding a sleeping service's wake listener cannot exhaust the daemon's descriptors: connections beyond the cap are closed, held ones are served after the wake", async () => {
    const d = spawn(process.execPath, ['--input-type=module', '-e', DAEMON], { detached: true });
    daemon = d;
    let out = '';
    d.stdout.on('data', (b: Buffer) => {
      out += String(b);
    });
    const port = Number(
      (await waitFor('the listener to open', () => /port (\d+)\n/.exec(out)?.[1], { timeoutMs: 10_000 })) ??
        0,
    );
    const pid = d.pid as number;
    const before = descriptors(pid);

    conns.push(...(await Promise.all(Array.from({ length: FLOOD }, () => connect(port)))));
    await waitFor(
      'the connections beyond the cap to be closed',
      () => conns.filter((c) => c.closed).length >= FLOOD - DEFAULT_MAX_HELD,
      {
        timeoutMs: 20_000,
      },
    );
    expect(out).toContain('waking\n');
    const held = conns.filter((c) => !c.closed);
    expect(held).toHaveLength(DEFAULT_MAX_HELD);
    // The daemon holds one descriptor per held connection and not one more for the flood beyond it.
    expect(descriptors(pid) - before).toBeLessThanOrEqual(DEFAULT_MAX_HELD + 8);
    // The closed ones were closed without a byte: nothing was piped for them.
    expect(conns.filter((c) => c.closed).every((c) => c.text === '')).toBe(true);

    d.stdin.write('wake\n');
    for (const [i, c] of held.entries()) c.sock.write(`${i};`);
    await waitFor(
      'every held connection to be answered',
      () => held.every((c, i) => c.text === `awake:${i};`),
      {
        timeoutMs: 20_000,
      },
    );
  });
});
