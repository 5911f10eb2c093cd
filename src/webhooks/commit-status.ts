import type { Logger } from 'pino';
import type { DeploymentStatus } from '../core/model.js';
import type { DeploymentLogs } from '../deploy/deployment-log.js';
import type { DeployEngine } from '../deploy/engine.js';
import type { Store } from '../store/store.js';

const REPORTED: Partial<Record<DeploymentStatus, 'pending' | 'success' | 'failure'>> = {
  WAITING: 'pending',
  SUCCESS: 'success',
  FAILED: 'failure',
  CRASHED: 'failure',
};
const TIMEOUT_MS = 10_000;

/** The body POSTed to a project's status URL: GitHub's commit status fields plus Berth's own. */
export interface CommitStatusPayload {
  state: 'pending' | 'success' | 'failure';
  target_url: string;
  description: string;
  context: string;
  sha: string;
  branch: string;
  project: string;
  environment: string;
  environmentKind: string;
  service: string;
  deploymentId: string;
}

/**
 * Reports git deployments back, shaped like a GitHub commit status (what a bot relays to the PR):
 * pending while waiting for checks, success with the URL (a preview's URL), failure with the reason.
 * Best effort: a status URL that fails is noted in the deployment's log, never fails the deployment.
 */
export function reportCommitStatuses(deps: {
  store: Store;
  engine: DeployEngine;
  logs: DeploymentLogs;
  logger: Logger;
}): void {
  const { store, engine, logs, logger } = deps;
  engine.onStatus((id, status, reason) => {
    const state = REPORTED[status];
    if (!state) return;
    const d = store.deployments.find(id);
    const git = d ? store.deployments.findGitMeta(id) : null;
    if (!d || !git) return;
    const service = store.services.getById(d.serviceId);
    const url = store.webhookSettings.findStatusUrl(service.projectId);
    if (!url) return;
    const environment = store.environments.getById(d.environmentId);
    const project = store.projects.getById(service.projectId);
    const target = engine.serviceUrl(service, environment);
    const payload: CommitStatusPayload = {
      state,
      target_url: target,
      description:
        state === 'success'
          ? `Deployed to ${environment.name}: ${target}`
          : `${status}${reason ? `: ${reason}` : ''}`.slice(0, 140),
      context: `berth/${environment.name}/${service.name}`,
      sha: git.sha,
      branch: git.branch,
      project: project.name,
      environment: environment.name,
      environmentKind: environment.kind,
      service: service.name,
      deploymentId: id,
    };
    void post(url, payload).catch((err: Error) => {
      logs.log(id, 'deploy', 'system', `Could not report the commit status to ${url}: ${err.message}`, {
        level: 'warn',
      });
      logger.warn({ err, deployment: id }, 'commit status report failed');
    });
  });
}

async function post(url: string, payload: CommitStatusPayload): Promise<void> {
  // Loaded here, not at start: most servers never report a status, and undici is ~8 MB of a resident daemon.
  const { request } = await import('undici');
  const res = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'berth' },
    body: JSON.stringify(payload),
    headersTimeout: TIMEOUT_MS,
    bodyTimeout: TIMEOUT_MS,
  });
  await res.body.dump();
  if (res.statusCode >= 300) throw new Error(`it answered HTTP ${res.statusCode}`);
}
