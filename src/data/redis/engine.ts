/**
 * Redis as a data service's engine (src/data/engine.ts): redis-server in the foreground with the config file
 * Berth keeps in the volume; persistence on (AOF everysec + RDB); SIGTERM is its SHUTDOWN (save, fsync, exit).
 */
import fs from 'node:fs';
import path from 'node:path';
import { delay } from '../../lib/wait.js';
import type { Engine, EngineRun } from '../engine.js';
import { writeOwned } from '../volume.js';
import { REDIS_CONF, REDIS_PORT, redisConfig, redisServerArgv } from './argv.js';
import { requireRedis } from './binaries.js';
import { RespError, redisCommands } from './resp.js';
import { redisVariables } from './variables.js';

function readIfThere(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** Berth's lines re-asserted in the config file (a client may have changed it with CONFIG REWRITE). */
function writeConfig(run: EngineRun): void {
  const file = path.join(run.volume, REDIS_CONF);
  writeOwned(file, redisConfig(readIfThere(file), { password: run.ds.password }), run.owner);
}

/** Whether it answers AUTH + PING; a refused password fails at once (waiting would not fix it). */
async function answers(run: EngineRun): Promise<boolean> {
  let replies: Awaited<ReturnType<typeof redisCommands>>;
  try {
    replies = await redisCommands(run, [['AUTH', run.ds.username, run.ds.password], ['PING']], 2000);
  } catch {
    return false; // not listening yet
  }
  const [auth, ping] = replies;
  if (auth instanceof RespError && auth.code !== 'LOADING') {
    throw new Error(`Redis refused Berth's credentials: ${auth.message}`);
  }
  return ping === 'PONG';
}

export const redisEngine: Engine = {
  kind: 'redis',
  label: 'Redis',
  port: REDIS_PORT,
  // Railway's: the ACL default user; Redis's logical database 0.
  defaults: { username: 'default', database: '0' },
  stopSignal: 'SIGTERM',
  // SHUTDOWN writes an RDB snapshot of the whole dataset first: a large one takes a while.
  stopGraceMs: 120_000,
  startTimeoutMs: 120_000,
  restartMessage: (name) =>
    `${name} restarted: shut down with SIGTERM (Redis saves a snapshot and fsyncs its append-only file first, so acknowledged writes are kept), then started again`,
  requireBinaries: () => requireRedis(),
  provision: async (run) => writeConfig(run),
  beforeStart: (run) => writeConfig(run),
  startArgv: (run) =>
    redisServerArgv(requireRedis().server, {
      configFile: path.join(run.volume, REDIS_CONF),
      dir: run.volume,
      bind: run.host,
      port: run.port,
    }),
  waitReady: async (run, o) => {
    let goneReason: string | null = null;
    void o.gone?.then((r) => {
      goneReason = r;
    });
    const deadline = Date.now() + o.timeoutMs;
    for (;;) {
      if (goneReason !== null) throw new Error(goneReason);
      if (await answers(run)) return;
      if (goneReason !== null) throw new Error(goneReason);
      if (Date.now() > deadline) {
        throw new Error(`Redis did not answer on ${run.host}:${run.port} within ${o.timeoutMs / 1000}s`);
      }
      await delay(50);
    }
  },
  variables: (e) => redisVariables(e),
};
