/**
 * A hand-started redis-server for tests that need a queue (BullMQ workers): its own port and temp dir, no
 * persistence, stopped by pid. Callers skip without it (optional-tools.ts: needs('redis-server', …)).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from '../../src/lib/net.js';
import { waitFor } from '../../src/lib/wait.js';
import { findSystemTool } from '../../src/runtime/sandbox.js';
import { killGroup, makeTmpDir } from './tmp.js';

export interface TestRedis {
  port: number;
  /** A client for the test's own checks (closed by stop). */
  client: Redis;
  stop(): Promise<void>;
}

/** The argv of a throwaway redis-server on one loopback port, writing nothing but into dir. */
export function redisServerArgv(binary: string, port: number, dir: string): string[] {
  return [
    binary,
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
  ];
}

export async function startRedis(): Promise<TestRedis> {
  const binary = findSystemTool('redis-server');
  if (!binary) throw new Error('redis-server is not installed (apt-get install redis-server)');
  const tmp = makeTmpDir('berth-redis-');
  const port = await freePort();
  const [cmd, ...args] = redisServerArgv(binary, port, tmp.dir);
  const child: ChildProcess = spawn(cmd, args, { detached: true, stdio: 'ignore' });
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });
  // Refused connects while it starts are expected; waitFor retries them.
  client.on('error', () => undefined);
  const stop = async () => {
    client.disconnect();
    if (child.pid) killGroup(child.pid);
    tmp.cleanup();
  };
  try {
    await waitFor(
      'redis-server to answer PING',
      async () => {
        if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
        try {
          if (client.status === 'wait' || client.status === 'end') await client.connect();
          return (await client.ping()) === 'PONG' ? true : null;
        } catch {
          return null;
        }
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, client, stop };
}
