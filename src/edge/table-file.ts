/**
 * routes.json: the RoutingTable exactly as JSON (the same file a future HAProxy driver reads).
 * Written atomically (tmp + fsync + rename) so a reader never sees half a table.
 */

import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomicAsync } from '../lib/atomic-write.js';
import { emptyRoutingTable, type RoutingTable } from './routing-table.js';

/** Files of the edge's state directory. */
export const ROUTES_FILE = 'routes.json';
export const PID_FILE = 'edge.pid';
/** The daemon's record of the edge process it runs (ProcessDriver's handle: pid + start time), for adoption. */
export const HANDLE_FILE = 'edge.handle.json';
export const CONTROL_SOCKET = 'control.sock';
export const LOG_FILE = 'edge.log';
/** ACME HTTP-01 key authorizations the daemon puts here (file name = token) for the edge to serve. */
export const CHALLENGE_DIR = 'acme-challenge';

function fail(msg: string): never {
  throw new Error(`invalid routing table: ${msg}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isPort(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
}

function checkPolicy(at: string, p: unknown): void {
  if (!isObject(p)) fail(`${at} is not an object`);
  for (const k of ['rateLimit', 'maxBodySize', 'rateLimitWindowSeconds'] as const) {
    const v = p[k];
    if (v !== undefined && v !== null && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1)) {
      fail(`${at}.${k} must be a positive whole number`);
    }
  }
  for (const k of ['allowIps', 'denyIps', 'denyPaths'] as const) {
    const v = p[k];
    if (v !== undefined && (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))) {
      fail(`${at}.${k} must be an array of strings`);
    }
  }
}

/** Checks the shape of a parsed routes.json; returns it typed or throws naming the bad field. */
export function parseRoutingTable(value: unknown): RoutingTable {
  if (!isObject(value)) fail('not an object');
  const { version, routes } = value;
  if (typeof version !== 'number' || !Number.isFinite(version)) fail('version must be a number');
  if (!Array.isArray(routes)) fail('routes must be an array');
  const checkTargets = (at: string, targets: unknown) => {
    if (!Array.isArray(targets)) fail(`${at}.targets must be an array`);
    targets.forEach((t: unknown, j) => {
      if (!isObject(t)) fail(`${at}.targets[${j}] is not an object`);
      if (typeof t.id !== 'string') fail(`${at}.targets[${j}].id must be a string`);
      if (typeof t.host !== 'string' || t.host === '') fail(`${at}.targets[${j}].host must be a string`);
      if (!isPort(t.port)) fail(`${at}.targets[${j}].port must be a port number`);
    });
  };
  const { connectionsPerIp } = value;
  if (
    connectionsPerIp !== undefined &&
    !(Number.isInteger(connectionsPerIp) && (connectionsPerIp as number) >= 0)
  ) {
    fail('connectionsPerIp must be a whole number of 0 or more');
  }
  const { privateEndpoints } = value;
  if (privateEndpoints !== undefined) {
    if (!Array.isArray(privateEndpoints)) fail('privateEndpoints must be an array');
    privateEndpoints.forEach((p: unknown, i) => {
      const at = `privateEndpoints[${i}]`;
      if (!isObject(p)) fail(`${at} is not an object`);
      for (const k of ['name', 'host', 'deploymentId'] as const) {
        if (typeof p[k] !== 'string' || p[k] === '') fail(`${at}.${k} must be a string`);
      }
      if (!isPort(p.port)) fail(`${at}.port must be a port number`);
      checkTargets(at, p.targets);
    });
  }
  routes.forEach((r: unknown, i) => {
    const at = `routes[${i}]`;
    if (!isObject(r)) fail(`${at} is not an object`);
    if (!Array.isArray(r.hostnames) || !r.hostnames.every((h) => typeof h === 'string')) {
      fail(`${at}.hostnames must be an array of strings`);
    }
    for (const k of ['project', 'environment', 'service', 'deploymentId'] as const) {
      if (typeof r[k] !== 'string') fail(`${at}.${k} must be a string`);
    }
    for (const k of ['serviceId', 'environmentId'] as const) {
      if (r[k] !== undefined && typeof r[k] !== 'string') fail(`${at}.${k} must be a string`);
    }
    if (r.kind !== 'proxy' && r.kind !== 'static') fail(`${at}.kind must be "proxy" or "static"`);
    checkTargets(at, r.targets);
    if (
      r.redirectToHttps !== undefined &&
      (!Array.isArray(r.redirectToHttps) || !r.redirectToHttps.every((h) => typeof h === 'string'))
    ) {
      fail(`${at}.redirectToHttps must be an array of strings`);
    }
    if (r.policy !== undefined) checkPolicy(`${at}.policy`, r.policy);
    if (r.staticRoot !== null && typeof r.staticRoot !== 'string')
      fail(`${at}.staticRoot must be a string or null`);
    if (r.kind === 'static' && (typeof r.staticRoot !== 'string' || !path.isAbsolute(r.staticRoot))) {
      fail(`${at}.staticRoot must be an absolute path for a static route`);
    }
    if (
      r.staticAppDir !== undefined &&
      (typeof r.staticAppDir !== 'string' || !path.isAbsolute(r.staticAppDir))
    ) {
      fail(`${at}.staticAppDir must be an absolute path`);
    }
    if (r.staticFallback !== undefined && (typeof r.staticFallback !== 'string' || r.staticFallback === '')) {
      fail(`${at}.staticFallback must be a non-empty string`);
    }
  });
  return value as unknown as RoutingTable;
}

/** Reads routes.json; a missing file is the empty table, anything unreadable throws. */
export async function readRoutingTable(file: string): Promise<RoutingTable> {
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyRoutingTable();
    throw err;
  }
  return parseRoutingTable(JSON.parse(text));
}

/** Writes routes.json atomically (lib/atomic-write.ts): the edge, which reads it, never sees half a table. */
export function writeRoutingTable(file: string, table: RoutingTable): Promise<void> {
  return writeFileAtomicAsync(file, `${JSON.stringify(table, null, 2)}\n`, { mode: 0o644, durable: true });
}
