import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  type CommitStatusBody,
  type CommitStatusResult,
  commitStatusBodySchema,
  commitStatusResultSchema,
  type WebhookSettings,
  type WebhookSettingsPatch,
  webhookResultSchema,
  webhookSettingsPatchSchema,
  webhookSettingsSchema,
} from '../api/contract/index.js';
import type { ApiDeps } from '../api/deps.js';
import { UserError } from '../core/errors.js';
import type { Project } from '../core/model.js';
import type { PushDeps } from '../git/deploy.js';
import { onCommitStatus, onPullRequest, onPush, type WebhookResult } from './github.js';
import { gitlabMergeRequest, gitlabPipeline, gitlabPush } from './gitlab.js';
import { verifySignature } from './signature.js';

export const WEBHOOK_SECRET = 'webhook-secret';
/** GitHub caps webhook payloads at 25 MB; anything bigger is not a webhook. */
export const WEBHOOK_BODY_LIMIT = 25 * 1024 * 1024;
const UNAUTHORIZED = {
  error: {
    code: 'unauthorized',
    message:
      "The webhook signature is missing or wrong; sign the body with the project's webhook secret (X-Hub-Signature-256).",
  },
};

const UNAUTHORIZED_GITLAB = {
  error: {
    code: 'unauthorized',
    message: "The X-Gitlab-Token header is missing or is not the project's webhook secret.",
  },
};

function sameSecret(secret: string, given: string): boolean {
  const a = Buffer.from(secret);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new UserError('The webhook body is not JSON; set the webhook content type to application/json.');
  }
}

function settingsOf(deps: ApiDeps, req: FastifyRequest, project: Project, secret?: string): WebhookSettings {
  const base = `${req.protocol}://${req.headers.host ?? '127.0.0.1'}`;
  return {
    webhookUrl: `${base}/v1/webhooks/github?project=${encodeURIComponent(project.name)}`,
    gitlabWebhookUrl: `${base}/v1/webhooks/gitlab?project=${encodeURIComponent(project.name)}`,
    secretSet: deps.store.webhookSettings.findSecret(project.id, WEBHOOK_SECRET) !== null,
    ...(secret ? { secret } : {}),
    statusUrl: deps.store.webhookSettings.findStatusUrl(project.id),
    forkPrs: deps.store.webhookSettings.forkPrs(project.id),
  };
}

function checkStatusUrl(url: string | null | undefined): string | null | undefined {
  if (url === undefined || url === null || url === '') return url === '' ? null : url;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UserError(`Status URL "${url}" is not a URL; give an http(s) address.`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UserError(`Status URL "${url}" must be http or https.`);
  }
  return url;
}

/**
 * `POST /v1/webhooks/github` (authenticated by its HMAC signature, not the token), the project's
 * webhook settings and a commit-status API for CI systems that are not GitHub.
 */
export function webhookRoutes(deps: ApiDeps) {
  const { store, engine } = deps;
  const push: PushDeps = { store, engine, dataDir: deps.paths.root };
  return async (app: FastifyInstance) => {
    await app.register(async (scoped) => {
      // The signature covers the exact bytes: keep the body raw in this scope.
      scoped.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) =>
        done(null, body),
      );
      // Nobody reads a body for a project that cannot verify it: an unknown project or one without a
      // secret is answered before the body arrives (and the connection closed, so it is never read).
      scoped.addHook('onRequest', async (req, reply) => {
        const name = (req.query as { project?: string }).project;
        const project = name ? store.projects.find(name) : null;
        if (project && store.webhookSettings.findSecret(project.id, WEBHOOK_SECRET) !== null) return;
        const gitlab = req.url.startsWith('/v1/webhooks/gitlab');
        return reply
          .code(401)
          .header('connection', 'close')
          .send(gitlab ? UNAUTHORIZED_GITLAB : UNAUTHORIZED);
      });
      // The raw body (signatures are over the exact bytes), the ?project= project and its webhook secret.
      const hookRequest = (body: unknown, name: string | undefined) => {
        const project = name ? store.projects.find(name) : null;
        return {
          raw: Buffer.isBuffer(body) ? body : Buffer.alloc(0),
          project,
          secret: project ? store.webhookSettings.findSecret(project.id, WEBHOOK_SECRET) : null,
        };
      };
      scoped.post<{ Querystring: { project?: string } }>(
        '/v1/webhooks/github',
        {
          bodyLimit: WEBHOOK_BODY_LIMIT,
          schema: {
            summary:
              'GitHub webhook (push, pull_request, status, check_suite, ping); verified with X-Hub-Signature-256',
            security: [],
            response: { 202: webhookResultSchema },
          },
        },
        async (req, reply) => {
          const { raw, project, secret } = hookRequest(req.body, req.query.project);
          const signature = req.headers['x-hub-signature-256'];
          // Unknown project, no secret, bad signature: one answer, so nothing leaks about which it was.
          if (
            !project ||
            !secret ||
            !verifySignature(secret, raw, typeof signature === 'string' ? signature : undefined)
          ) {
            return reply.code(401).send(UNAUTHORIZED);
          }
          const body = parseJson(raw);
          const event = String(req.headers['x-github-event'] ?? '');
          let result: WebhookResult;
          if (event === 'ping') result = { event };
          else if (event === 'push') result = await onPush(push, project, body as object);
          else if (event === 'pull_request') result = await onPullRequest(push, project, body as object);
          else if (event === 'status' || event === 'check_suite')
            result = onCommitStatus(push, project, event, body);
          else result = { event, ignored: `Berth does not act on "${event || 'unnamed'}" events` };
          return reply.code(202).send(result);
        },
      );

      scoped.post<{ Querystring: { project?: string } }>(
        '/v1/webhooks/gitlab',
        {
          bodyLimit: WEBHOOK_BODY_LIMIT,
          schema: {
            summary:
              'GitLab webhook (Push, Merge Request, Pipeline hooks); authenticated by X-Gitlab-Token = the webhook secret',
            security: [],
            response: { 202: webhookResultSchema },
          },
        },
        async (req, reply) => {
          const { raw, project, secret } = hookRequest(req.body, req.query.project);
          const token = req.headers['x-gitlab-token'];
          if (!project || !secret || !sameSecret(secret, typeof token === 'string' ? token : '')) {
            return reply.code(401).send(UNAUTHORIZED_GITLAB);
          }
          const body = parseJson(raw) as Record<string, unknown>;
          const event = String(req.headers['x-gitlab-event'] ?? '');
          let result: WebhookResult;
          if (event === 'Push Hook') result = await onPush(push, project, gitlabPush(body));
          else if (event === 'Merge Request Hook')
            result = await onPullRequest(push, project, gitlabMergeRequest(body));
          else if (event === 'Pipeline Hook')
            result = onCommitStatus(push, project, 'status', gitlabPipeline(body));
          else result = { event, ignored: `Berth does not act on "${event || 'unnamed'}" events` };
          return reply.code(202).send(result);
        },
      );
    });

    app.get<{ Params: { project: string } }>(
      '/v1/projects/:project/webhook',
      {
        schema: {
          summary: "The project's webhook URL, whether a secret is set, and its status URL",
          response: { 200: webhookSettingsSchema },
        },
      },
      async (req) => settingsOf(deps, req, store.projects.get(req.params.project)),
    );

    app.patch<{ Params: { project: string }; Body: WebhookSettingsPatch | undefined }>(
      '/v1/projects/:project/webhook',
      {
        schema: {
          summary:
            'Set the webhook secret (or generate one, shown once) and the URL commit statuses are POSTed to',
          body: webhookSettingsPatchSchema,
          response: { 200: webhookSettingsSchema },
        },
      },
      async (req): Promise<WebhookSettings> => {
        const project = store.projects.get(req.params.project);
        const b = req.body ?? {};
        if (b.secret !== undefined && b.generateSecret) {
          throw new UserError('Give a webhook secret or ask for a generated one, not both.');
        }
        if (typeof b.secret === 'string' && b.secret.length < 16) {
          throw new UserError(
            'A webhook secret needs at least 16 characters; use --generate-secret for a strong one.',
          );
        }
        const generated = b.generateSecret ? randomBytes(24).toString('base64url') : undefined;
        if (generated || b.secret !== undefined) {
          store.webhookSettings.setSecret(project.id, WEBHOOK_SECRET, generated ?? b.secret ?? null);
        }
        const statusUrl = checkStatusUrl(b.statusUrl);
        if (statusUrl !== undefined) store.webhookSettings.setStatusUrl(project.id, statusUrl);
        if (b.forkPrs !== undefined) store.webhookSettings.setForkPrs(project.id, b.forkPrs);
        return settingsOf(deps, req, project, generated);
      },
    );

    app.post<{
      Params: { project: string };
      Body: CommitStatusBody;
    }>(
      '/v1/projects/:project/commit-statuses',
      {
        schema: {
          summary:
            'Report a commit status (success releases deployments waiting for checks; failure/error skips them)',
          body: commitStatusBodySchema,
          response: { 200: commitStatusResultSchema },
        },
      },
      async (req): Promise<CommitStatusResult> => {
        const project = store.projects.get(req.params.project);
        return engine.checks.commitStatus(project.id, req.body.sha, req.body);
      },
    );
  };
}
