/**
 * Picks and builds the edge driver for `berth server --edge auto|haproxy|builtin`, and retires the other
 * driver's data plane when the operator switches (both would want the public port).
 */

import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import type { EdgeDriver, EdgeKind, EdgeLog } from './driver.js';
import { EdgeProcess } from './edge-client.js';
import { findHaproxy } from './haproxy/find.js';

export type EdgeChoice = EdgeKind | 'auto';
export const EDGE_CHOICES: readonly EdgeChoice[] = ['auto', 'haproxy', 'builtin'];

export interface EdgeOptions {
  /** The edge state dir (DIR/edge). */
  stateDir: string;
  port: number;
  host: string;
  /** HTTPS port; null: HTTP only. */
  httpsPort?: number | null;
  /** Where the driver reports a crashed edge process and its restart (the daemon's log). */
  log?: EdgeLog;
}

/**
 * auto = HAProxy when its binary is installed (it forwards several times the requests per second of the
 * Node proxy), else the built-in edge. Both serve the same routing table: HTTP and HTTPS by SNI, ACME
 * challenges, HTTPS redirects, X-Request-Id, static sites, private endpoints, the `[edge]` policy (rate
 * limits, IP/path rules, body size) and the edge cache.
 */
export async function createEdge(choice: EdgeChoice, opts: EdgeOptions): Promise<EdgeDriver> {
  if (choice === 'builtin') return new EdgeProcess(opts);
  const binary = findHaproxy();
  if (binary === null) {
    if (choice === 'auto') return new EdgeProcess(opts);
    throw new UserError(
      '--edge haproxy needs the haproxy binary, which is not installed; install it (apt-get install haproxy) or use --edge builtin.',
    );
  }
  // Loaded only when used: the driver is a few MB of a daemon that stays resident.
  const { HaproxyEdge } = await import('./haproxy/driver.js');
  return new HaproxyEdge({ ...opts, binary });
}

/**
 * How long the retiring data plane may finish requests when the operator switches drivers: long enough for
 * requests in flight, short enough that an idle keep-alive connection cannot hold the new start for 35 s.
 */
const SWITCH_DRAIN_MS = 5_000;

/** Stops the data plane of the driver not chosen, if one still runs from an earlier start. */
export async function retireOtherEdge(chosen: EdgeDriver, opts: EdgeOptions): Promise<void> {
  if (chosen.kind === 'haproxy') await stopBuiltinEdge(opts);
  else await stopHaproxyEdge(opts);
}

/**
 * `berth server --stop-edge`: stops whichever data plane runs for this state dir (requests in flight get
 * SWITCH_DRAIN_MS to finish). Returns the kinds it stopped.
 */
export async function stopEdges(opts: EdgeOptions): Promise<EdgeKind[]> {
  const stopped: EdgeKind[] = [];
  if (await stopBuiltinEdge(opts)) stopped.push('builtin');
  if (await stopHaproxyEdge(opts)) stopped.push('haproxy');
  return stopped;
}

async function stopBuiltinEdge(opts: EdgeOptions): Promise<boolean> {
  const builtin = new EdgeProcess(opts);
  if ((await builtin.health(1000).catch(() => null)) === null) return false;
  await builtin.stop(SWITCH_DRAIN_MS);
  return true;
}

async function stopHaproxyEdge(opts: EdgeOptions): Promise<boolean> {
  const binary = findHaproxy();
  // Nothing of an earlier HAProxy in this state dir: no need to load the driver to ask it.
  if (binary === null || !fs.existsSync(path.join(opts.stateDir, 'haproxy'))) return false;
  const { HaproxyEdge } = await import('./haproxy/driver.js');
  const haproxy = new HaproxyEdge({ ...opts, binary });
  if (!(await haproxy.running())) return false;
  await haproxy.stop(SWITCH_DRAIN_MS);
  return true;
}
