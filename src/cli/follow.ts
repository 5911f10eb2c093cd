import { type DeploymentStatus, TERMINAL_STATUSES } from '../api/contract/index.js';
import { delay } from '../lib/wait.js';
import type { ApiClient, DeploymentDetail, LogEvent } from './client.js';
import { CliError, isUnreachable } from './errors.js';
import { formatLogEvent, print, printErr, printJsonLine, style } from './output.js';

/**
 * Follows a deployment to a terminal status: streams its build and deploy logs (and status changes),
 * falls back to polling GET /v1/deployments/:id if the stream drops, then reports the outcome.
 */

export interface FollowOptions {
  /** Print NDJSON events as received (plus a final {"type":"result"} line) instead of formatted lines. */
  json?: boolean;
  /** URL to report when the deployment detail carries none (e.g. the one `up` answered). */
  url?: string | null;
  pollIntervalMs?: number;
  /** How long polling tolerates an unreachable server before giving up. */
  unreachableGraceMs?: number;
  /** `up --ci`: only build log lines, then the outcome (no status changes, deploy or app output). */
  buildOnly?: boolean;
}

/** What --ci shows of the stream: the build's own log lines. */
export function isBuildLine(event: LogEvent | null): boolean {
  return event?.type === 'log' && event.phase === 'build';
}

export interface FollowResult {
  status: DeploymentStatus;
  reason: string | null;
  url: string | null;
  exitCode: number;
}

const isTerminal = (s: string | null | undefined): s is DeploymentStatus =>
  !!s && TERMINAL_STATUSES.has(s as DeploymentStatus);

export async function followDeployment(
  client: ApiClient,
  id: string,
  opts: FollowOptions = {},
): Promise<FollowResult> {
  let lastStatus: string | null = null;
  let streamError: unknown;
  try {
    for await (const { raw, event } of client.logs(id, { follow: true, untilTerminal: true })) {
      if (event?.type === 'status') lastStatus = event.status;
      if (opts.buildOnly && !isBuildLine(event)) continue;
      if (opts.json) printJsonLine(event ?? raw);
      else if (event) print(formatLogEvent(event));
      else print(raw);
    }
  } catch (err) {
    streamError = err;
  }

  if (streamError !== undefined && !opts.json) {
    const why = streamError instanceof Error ? ` (${streamError.message})` : '';
    printErr(
      style.dim(`==> The log stream stopped${why}; waiting for the deployment to finish`, process.stderr),
    );
  }

  const detail = await pollUntilTerminal(client, id, lastStatus, opts);
  return report(id, detail, opts);
}

async function pollUntilTerminal(
  client: ApiClient,
  id: string,
  lastStatus: string | null,
  opts: FollowOptions,
): Promise<DeploymentDetail> {
  const interval = opts.pollIntervalMs ?? 1000;
  const grace = opts.unreachableGraceMs ?? 60_000;
  let unreachableSince: number | null = null;
  for (;;) {
    let detail: DeploymentDetail | undefined;
    try {
      detail = await client.deployment(id);
      unreachableSince = null;
    } catch (err) {
      if (!(err instanceof CliError) || !isUnreachable(err.cause)) throw err;
      unreachableSince ??= Date.now();
      if (Date.now() - unreachableSince > grace) throw err;
    }
    if (detail) {
      if (detail.status !== lastStatus) {
        // The stream may have ended before reporting the final status; show what it missed.
        if (!opts.buildOnly && (lastStatus !== null || !isTerminal(detail.status))) {
          if (opts.json) printJsonLine({ type: 'status', status: detail.status, reason: detail.reason });
          else print(formatLogEvent({ type: 'status', status: detail.status, reason: detail.reason }));
        }
        lastStatus = detail.status;
      }
      if (isTerminal(detail.status)) return detail;
    }
    await delay(interval);
  }
}

function report(id: string, detail: DeploymentDetail, opts: FollowOptions): FollowResult {
  const url = detail.url ?? opts.url ?? null;
  const exitCode = detail.status === 'SUCCESS' ? 0 : 1;
  const result: FollowResult = { status: detail.status, reason: detail.reason, url, exitCode };
  if (opts.json) {
    printJsonLine({ type: 'result', deploymentId: id, status: detail.status, reason: detail.reason, url });
    return result;
  }
  switch (detail.status) {
    case 'SUCCESS':
      print(style.green(`Deployed ${url ?? `deployment ${id}`}`));
      break;
    case 'FAILED':
    case 'CRASHED':
      printErr(`Deployment failed: ${detail.reason ?? detail.status.toLowerCase()}`);
      break;
    default:
      printErr(
        `Deployment ${id} was ${detail.status.toLowerCase()}${detail.reason ? `: ${detail.reason}` : ''}`,
      );
  }
  return result;
}

/**
 * `berth restart` has no new deployment to follow: poll the active one until every replica is running
 * again (twice in a row, so a restart that has not begun yet is not mistaken for done).
 */
export async function waitForRestart(
  client: ApiClient,
  id: string,
  opts: { json?: boolean; timeoutMs?: number; pollIntervalMs?: number } = {},
): Promise<FollowResult> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10 * 60_000);
  const interval = opts.pollIntervalMs ?? 1000;
  const seen = new Map<number, string>();
  let healthyPolls = 0;
  for (;;) {
    const detail = await client.deployment(id);
    for (const r of detail.replicas ?? []) {
      if (seen.get(r.replica) !== r.state) {
        seen.set(r.replica, r.state);
        const line = { type: 'replica', replica: r.replica, state: r.state, restarts: r.restarts };
        if (opts.json) printJsonLine(line);
        else print(style.bold(`==> replica ${r.replica}: ${r.state}`));
      }
    }
    if (detail.status !== 'SUCCESS') return report(id, detail, { json: opts.json });
    const allRunning = (detail.replicas ?? []).every((r) => r.state === 'running');
    healthyPolls = allRunning ? healthyPolls + 1 : 0;
    if (healthyPolls >= 2) {
      if (opts.json)
        printJsonLine({ type: 'result', deploymentId: id, status: detail.status, url: detail.url });
      else print(style.green(`Restarted ${detail.service}${detail.url ? ` (${detail.url})` : ''}`));
      return { status: detail.status, reason: detail.reason, url: detail.url, exitCode: 0 };
    }
    if (Date.now() > deadline) {
      throw new CliError(
        `The restart of deployment ${id} did not finish in time; check it with \`berth status\``,
      );
    }
    await delay(interval);
  }
}
