import http from 'node:http';
import { canConnect } from '../lib/net.js';
import { delay } from '../lib/wait.js';

export interface HealthCheckSpec {
  port: number;
  /** healthcheckPath, or null: then healthy as soon as the port accepts connections. */
  path: string | null;
  /** Sent as the Host header so apps with host allow-lists accept the check. */
  hostHeader: string;
  timeoutMs: number;
  signal: AbortSignal;
  /** Resolves with a plain-language reason if the replica's process ends while we wait. */
  exited: Promise<string>;
}

/** Why a replica never became healthy, in words the user reads in `berth deployments`. */
export class HealthCheckFailed extends Error {}

/**
 * Polls one replica until it is healthy. Any 2xx passes (Railway accepts only 200, which
 * trips apps whose health route answers 204); redirects and errors keep it waiting.
 */
export async function waitHealthy(spec: HealthCheckSpec): Promise<void> {
  const started = Date.now();
  const deadline = started + spec.timeoutMs;
  let exitReason: string | null = null;
  void spec.exited.then((r) => {
    exitReason = r;
  });
  let lastStatus: number | null = null;
  let listened = false;
  let interval = 100;
  for (;;) {
    if (exitReason) throw new HealthCheckFailed(exitReason);
    if (spec.signal.aborted) throw spec.signal.reason;
    if (spec.path === null) {
      if (await canConnect(spec.port)) return;
    } else {
      try {
        const status = await probe(spec.port, spec.path, spec.hostHeader, spec.signal);
        listened = true;
        lastStatus = status;
        if (status >= 200 && status < 300) return;
      } catch (err) {
        if (spec.signal.aborted) throw spec.signal.reason;
        // not listening yet, or the app reset the connection; keep polling
        void err;
      }
    }
    if (Date.now() >= deadline) {
      if (exitReason) throw new HealthCheckFailed(exitReason);
      const window = Math.round(spec.timeoutMs / 1000);
      if (spec.path !== null && listened) {
        throw new HealthCheckFailed(`health check ${spec.path} got ${lastStatus} for ${window}s`);
      }
      throw new HealthCheckFailed(
        `app did not listen on $PORT (${spec.port}) within ${window}s; make sure it binds 0.0.0.0:$PORT`,
      );
    }
    await Promise.race([delay(interval, spec.signal), spec.exited]);
    // Until the app listens, a refused connect costs nothing: poll often, so a replica serves soon after it binds.
    interval = Math.min(interval * 1.5, listened ? 1000 : 250);
  }
}

/**
 * One GET of the health path; resolves with the status code. node:http rather than undici: the
 * daemon stays resident, and undici costs it ~18 MB for this one request.
 */
function probe(port: number, path: string, host: string, signal: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      {
        host: '127.0.0.1',
        port,
        path,
        headers: { host, 'user-agent': 'berth-healthcheck' },
        agent: false,
        signal,
        timeout: 5000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('health check timed out')));
    req.on('error', reject);
  });
}
