/**
 * Where the host's Redis is: Debian's `redis-server` package (/usr/bin/redis-server). Berth never downloads a
 * server of its own; BERTH_REDIS_SERVER names another binary (tests point it at nothing).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { UserError } from '../../core/errors.js';
import { findSystemTool } from '../../runtime/sandbox.js';

export interface RedisBinaries {
  /** Major version, e.g. "7". */
  version: string;
  server: string;
}

export const REDIS_PACKAGE_HINT =
  'Redis is not installed on the Berth server; install the Debian package redis-server (apt-get install redis-server) and try again.';

/** "Redis server v=7.0.15 sha=…" → "7". */
export function redisMajor(versionOutput: string): string | null {
  return /\bv=(\d+)\./.exec(versionOutput)?.[1] ?? null;
}

const versions = new Map<string, string | null>();

function versionOf(server: string): string | null {
  if (!versions.has(server)) {
    let major: string | null = null;
    try {
      major = redisMajor(execFileSync(server, ['--version'], { encoding: 'utf8', timeout: 10_000 }));
    } catch {
      major = null;
    }
    versions.set(server, major);
  }
  return versions.get(server) ?? null;
}

export function findRedis(
  server = process.env.BERTH_REDIS_SERVER ?? findSystemTool('redis-server'),
): RedisBinaries | null {
  if (!server) return null;
  try {
    fs.accessSync(server, fs.constants.X_OK);
  } catch {
    return null;
  }
  const version = versionOf(server);
  return version ? { version, server } : null;
}

/** The host's Redis, or a UserError naming the package to install. */
export function requireRedis(): RedisBinaries {
  const found = findRedis();
  if (!found) throw new UserError(REDIS_PACKAGE_HINT, { status: 503, code: 'missing_binaries' });
  return found;
}
