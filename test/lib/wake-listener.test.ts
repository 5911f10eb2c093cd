import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  EstablishedConnections,
  establishedByLocalAddress,
  procAddress,
} from '../../src/lib/tcp-connections.js';
import { waitFor } from '../../src/lib/wait.js';
import { WakeListener } from '../../src/lib/wake-listener.js';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

/** An echo server prefixing what it echoes, on a free port of 127.0.0.1. */
async function echoServer(prefix: string): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer((s) => s.on('data', (b) => s.write(`${prefix}${b}`)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => server.close());
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** Connects, writes text, resolves with the first answer. */
function ask(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    s.once('data', (b) => {
      resolve(String(b));
      s.destroy();
    });
    s.once('error', reject);
  });
}

describe('tcp-connections', () => {
  it('writes addresses as /proc/net/tcp does, in host byte order', () => {
    expect(procAddress('127.0.0.1', 5432, 'LE')).toBe('0100007F:1538');
    expect(procAddress('127.1.2.3', 6379, 'BE')).toBe('7F010203:18EB');
  });

  it('counts only established connections whose local end is the address', () => {
    const table = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1',
      '   1: 0100007F:1538 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 2',
      '   2: 0100007F:A000 0100007F:1538 01 00000000:00000000 00:00000000 00000000     0        0 3',
      '   3: 0100007F:1538 0100007F:A001 06 00000000:00000000 00:00000000 00000000     0        0 4',
    ].join('\n');
    // Established only (not the listening 0A nor the closing 06 line); a client's side counts under its own address.
    expect(establishedByLocalAddress(table)).toEqual(
      new Map([
        [procAddress('127.0.0.1', 5432, 'LE'), 1],
        [procAddress('127.0.0.1', 0xa000, 'LE'), 1],
      ]),
    );
  });

  it("reads the kernel's table: a real connection counts until it closes", async () => {
    const { port } = await echoServer('');
    expect(EstablishedConnections.read().to('127.0.0.1', port)).toBe(0);
    const s = net.connect(port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    await waitFor('the connection to count', () => EstablishedConnections.read().to('127.0.0.1', port) === 1);
    s.destroy();
    await waitFor('the connection to go', () => EstablishedConnections.read().to('127.0.0.1', port) === 0);
  });
});

describe('WakeListener', () => {
  it('holds every connection until the wake resolves, then pipes each to the target', async () => {
    const target = await echoServer('awake:');
    let wakes = 0;
    let release: () => void = () => undefined;
    const woken = new Promise<void>((r) => {
      release = r;
    });
    const l = await WakeListener.open({
      host: '127.0.0.1',
      port: 0,
      releaseOnWake: false,
      wake: async () => {
        wakes++;
        await woken;
        return [{ host: '127.0.0.1', port: target.port }];
      },
      onWakeFailed: () => undefined,
    });
    closers.push(() => l.destroy());
    const answers = Promise.all(['a', 'b', 'c'].map((x) => ask(l.port, x)));
    await waitFor('the wake to start', () => wakes === 1);
    release();
    expect(await answers).toEqual(['awake:a', 'awake:b', 'awake:c']);
    // After the wake, new connections go straight through; the wake ran once.
    expect(await ask(l.port, 'd')).toBe('awake:d');
    expect(wakes).toBe(1);
  });

  it('with releaseOnWake, frees its address on the first connection so the woken server can take it', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    let server: net.Server | null = null;
    const l = await WakeListener.open({
      host: '127.0.0.1',
      port,
      releaseOnWake: true,
      wake: async () => {
        // The address is free again: the "engine" binds the very port the listener held.
        server = net.createServer((s) => s.on('data', (b) => s.write(`engine:${b}`)));
        await new Promise<void>((r) => server?.listen(port, '127.0.0.1', r));
        return [{ host: '127.0.0.1', port }];
      },
      onWakeFailed: (err) => {
        throw err;
      },
    });
    closers.push(() => {
      l.destroy();
      server?.close();
    });
    expect(await ask(port, 'q')).toBe('engine:q');
    expect(await ask(port, 'r')).toBe('engine:r');
  });

  it('closes held connections when the wake fails, and says so', async () => {
    let failure: unknown = null;
    const l = await WakeListener.open({
      host: '127.0.0.1',
      port: 0,
      releaseOnWake: false,
      wake: () => Promise.reject(new Error('would not start')),
      onWakeFailed: (err) => {
        failure = err;
      },
    });
    closers.push(() => l.destroy());
    const closed = await new Promise<boolean>((resolve) => {
      const s = net.connect(l.port, '127.0.0.1', () => s.write('x'));
      s.on('close', () => resolve(true));
      s.on('error', () => undefined);
    });
    expect(closed).toBe(true);
    expect(String(failure)).toBe('Error: would not start');
  });
});
