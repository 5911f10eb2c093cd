/**
 * Redis's backup tools, pure: `redis-cli --rdb` (a snapshot over the replication connection) and
 * `redis-check-rdb`; the password goes in REDISCLI_AUTH, never argv. Tests assert these arrays exactly.
 */
import { UserError } from '../core/errors.js';
import { findSystemTool } from '../runtime/sandbox.js';

export interface RedisTools {
  cli: string;
  checkRdb: string;
}

/** Where a Redis is reached for a backup, and as whom. */
export interface RedisConnection {
  host: string;
  port: number;
  user: string;
  password: string;
}

export const REDIS_TOOLS_HINT =
  'Redis backups need redis-cli and redis-check-rdb, which are missing on the Berth server; install the Debian package redis-tools (apt-get install redis-tools) and try again.';

/** The host's redis-cli and redis-check-rdb (Debian's redis-tools, which redis-server depends on). */
export function findRedisTools(): RedisTools {
  const cli = findSystemTool('redis-cli');
  const checkRdb = findSystemTool('redis-check-rdb');
  if (!cli || !checkRdb) throw new UserError(REDIS_TOOLS_HINT, { status: 503, code: 'missing_binaries' });
  return { cli, checkRdb };
}

/**
 * A point-in-time snapshot of the whole dataset written to `file`: the server forks and sends an RDB as it
 * would to a replica (`REPLCONF rdb-only`: no replication stream follows). Always a file, never `-`:
 * redis-cli 7.0 leaves the 40-byte end marker of a diskless transfer in a pipe (it only truncates a file).
 */
export function redisRdbArgv(tools: RedisTools, c: RedisConnection, file: string): string[] {
  return [tools.cli, '-h', c.host, '-p', String(c.port), '--user', c.user, '--rdb', file];
}

export function redisCheckRdbArgv(tools: RedisTools, file: string): string[] {
  return [tools.checkRdb, file];
}

/** A minimal environment; redis-cli reads the password from REDISCLI_AUTH (not visible in ps). */
export function redisToolEnv(password: string | null): Record<string, string> {
  return {
    PATH: '/usr/bin:/bin',
    LANG: 'C',
    ...(password !== null ? { REDISCLI_AUTH: password } : {}),
  };
}

/** redis-check-rdb's "[info] N keys read": how many keys the snapshot holds. */
export function keysRead(checkOutput: string): number | null {
  const m = /\[info\] (\d+) keys read/.exec(checkOutput);
  return m ? Number(m[1]) : null;
}
