/**
 * Picks and builds the edge driver for `berth server --edge auto|haproxy|builtin`, and retires the other
 * driver's data plane when the operator switches (both would want the public port).
 */

import { UserError } from '../core/errors.js';
import type { EdgeDriver, EdgeKind } from './driver.js';
import { EdgeProcess } from './edge-client.js';
import { findHaproxy, HaproxyEdge } from './haproxy/driver.js';

export type EdgeChoice = EdgeKind | 'auto';
export const EDGE_CHOICES: readonly EdgeChoice[] = ['auto', 'haproxy', 'builtin'];

export interface EdgeOptions {
  /** The edge state dir (DIR/edge). */
  stateDir: string;
  port: number;
  host: string;
  /** HTTPS port (built-in edge only, for now). */
  httpsPort?: number | null;
}

/**
 * auto = the built-in edge, for now: HTTPS (certificates, ACME challenges, redirects), private networking
 * and X-Request-Id are served there only. HAProxy is opt-in (--edge haproxy, HTTP only) until its driver
 * renders those from the same routing table; then auto will prefer it when installed.
 */
export function createEdge(choice: EdgeChoice, opts: EdgeOptions): EdgeDriver {
  if (choice !== 'haproxy') return new EdgeProcess(opts);
  const binary = findHaproxy();
  if (binary === null) {
    throw new UserError(
      '--edge haproxy needs the haproxy binary, which is not installed; install it (apt-get install haproxy) or use --edge builtin.',
    );
  }
  if (opts.httpsPort != null) {
    throw new UserError(
      'The HAProxy edge does not serve HTTPS yet; start it with --no-https, or use --edge builtin for HTTPS.',
    );
  }
  const { httpsPort: _https, ...http } = opts;
  return new HaproxyEdge({ ...http, binary });
}

/** Stops the data plane of the driver not chosen, if one still runs from an earlier start. */
export async function retireOtherEdge(chosen: EdgeDriver, opts: EdgeOptions): Promise<void> {
  if (chosen.kind === 'haproxy') {
    const { httpsPort: _https, ...http } = opts;
    const builtin = new EdgeProcess(http);
    if ((await builtin.health(1000).catch(() => null)) !== null) await builtin.stop();
    return;
  }
  const binary = findHaproxy();
  if (binary === null) return;
  const { httpsPort: _https, ...http } = opts;
  const haproxy = new HaproxyEdge({ ...http, binary });
  if ((await haproxy.procList(1000).catch(() => null)) !== null) await haproxy.stop();
}
