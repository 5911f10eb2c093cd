/**
 * "Wait for checks": deployments WAITING for their commit's status run once it is success, end SKIPPED when it
 * fails, and end SKIPPED when nothing arrives within WAIT_FOR_CHECKS_MS (checked every minute).
 */

import type { Deployment, DeploymentStatus } from '../core/model.js';
import type { Store } from '../store/store.js';

/** How long a deployment waits for its commit's checks before it is SKIPPED. */
export const WAIT_FOR_CHECKS_MS = 60 * 60_000;

export interface CommitChecksDeps {
  store: Store;
  setStatus(id: string, status: DeploymentStatus, reason: string | null): void;
  /** Queues a released deployment. */
  run(d: Deployment): void;
}

export class CommitChecks {
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: CommitChecksDeps) {}

  /**
   * A commit status arrived (GitHub status/check_suite webhook or the API): WAITING deployments of that
   * commit run on success, end SKIPPED on failure or error (with the check named), stay on pending.
   */
  commitStatus(
    projectId: string,
    sha: string,
    status: { state: string; context?: string | null; description?: string | null },
  ): { released: string[]; skipped: string[] } {
    const { store, setStatus } = this.deps;
    const out = { released: [] as string[], skipped: [] as string[] };
    const state = status.state.toLowerCase();
    const check = status.context ? `"${status.context}"` : 'of the commit';
    for (const d of store.deployments.waitingForCommit(projectId, sha)) {
      if (state === 'success') {
        setStatus(d.id, 'QUEUED', `checks passed (commit status ${check} is success)`);
        this.deps.run(store.deployments.get(d.id));
        out.released.push(d.id);
      } else if (['failure', 'error', 'cancelled', 'timed_out', 'action_required'].includes(state)) {
        const why = status.description ? `: ${status.description}` : '';
        setStatus(d.id, 'SKIPPED', `checks did not pass: commit status ${check} is ${state}${why}`);
        out.skipped.push(d.id);
      }
    }
    return out;
  }

  /** Expires what waited too long now and every minute from now on. */
  start(): void {
    this.expireWaiting();
    this.timer = setInterval(() => this.expireWaiting(), 60_000);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** WAITING deployments nobody released within the limit end SKIPPED, never silently forgotten. */
  private expireWaiting(): void {
    const limit = Date.now() - WAIT_FOR_CHECKS_MS;
    for (const d of this.deps.store.deployments.withStatus(['WAITING'])) {
      if (Date.parse(d.createdAt) < limit) {
        this.deps.setStatus(
          d.id,
          'SKIPPED',
          `no successful commit status arrived within ${WAIT_FOR_CHECKS_MS / 60_000} minutes of waiting for checks`,
        );
      }
    }
  }
}
