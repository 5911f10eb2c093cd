import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { MIN_ADMIN_TOKEN_LENGTH } from '../server/admin-token.js';
import type { Store } from '../store/store.js';
import type { ProjectToken } from '../store/tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The project token the request carries; null with the admin token (set by tokenGuard). */
    projectToken: ProjectToken | null;
  }
}

/**
 * Routes anyone may call: liveness and the API description. The webhooks carry no API token; their
 * routes check the project's webhook secret instead (GitHub: HMAC of the body, GitLab: X-Gitlab-Token).
 */
const PUBLIC = new Set(['/v1/health', '/v1/openapi.json', '/v1/webhooks/github', '/v1/webhooks/gitlab']);

/**
 * The token a request carries: `Authorization: Bearer <token>`, or HTTP Basic auth whose password is the
 * token (any username) — what git clients send to `/git/<project>.git`.
 */
export function presentedToken(header: string): string {
  if (header.startsWith('Bearer ')) return header.slice(7).trim();
  if (header.startsWith('Basic ')) {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : '';
  }
  return '';
}

/**
 * The one place tokens are checked (per-endpoint checks drift; see lessons-from-peers §2).
 * Every route but PUBLIC needs a token, `Authorization: Bearer <token>` (or Basic auth with the token as password):
 * the admin token reaches everything; a project token (Railway's RAILWAY_TOKEN, see store.tokens.create)
 * only the routes of its own environment — `/v1/projects/:project/environments/:env/...` of its project and
 * environment, and `/v1/deployments/:id...` of deployments there — and gets 403 elsewhere.
 */
export function tokenGuard(adminToken: string, store: Store) {
  const check = tokenCheck(adminToken, store);
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const url = req.url.split('?')[0];
    if (PUBLIC.has(url)) return;
    const verdict = check({
      authorization: req.headers.authorization ?? '',
      method: req.method,
      route: req.routeOptions.url ?? '',
      params: req.params as Record<string, string>,
    });
    req.projectToken = verdict.projectToken;
    if (verdict.ok) return;
    // Git only sends credentials after a Basic challenge.
    if (verdict.status === 401 && url.startsWith('/git/'))
      reply.header('www-authenticate', 'Basic realm="Berth"');
    await reply.code(verdict.status).send({ error: verdict.error });
  };
}

/** What a request's credentials allow on one route: go on (with its project token, if any), or 401/403. */
export type TokenVerdict =
  | { ok: true; projectToken: ProjectToken | null }
  | {
      ok: false;
      projectToken: ProjectToken | null;
      status: 401 | 403;
      error: { code: string; message: string };
    };

/**
 * The decision behind tokenGuard, for requests that do not pass through Fastify's hooks too (the database
 * tunnel's Upgrade): `route` is the route pattern, `params` its values.
 */
/** The decision tokenCheck returns: a request's credentials on one route. */
export type TokenCheck = (r: {
  authorization: string;
  method: string;
  route: string;
  params: Record<string, string>;
}) => TokenVerdict;

export function tokenCheck(adminToken: string, store: Store): TokenCheck {
  // An empty admin token would match an empty bearer: authentication off (server/admin-token.ts refuses it first).
  if (adminToken.length < MIN_ADMIN_TOKEN_LENGTH) {
    throw new Error(`The admin token must have at least ${MIN_ADMIN_TOKEN_LENGTH} characters.`);
  }
  const expected = Buffer.from(adminToken);
  return (r): TokenVerdict => {
    const given = presentedToken(r.authorization);
    const raw = Buffer.from(given);
    if (given !== '' && raw.length === expected.length && timingSafeEqual(raw, expected))
      return { ok: true, projectToken: null };
    const token = given === '' ? null : store.tokens.findBySecret(given);
    if (token === null) {
      return {
        ok: false,
        projectToken: null,
        status: 401,
        error: {
          code: 'unauthorized',
          message:
            'Missing or invalid API token; run `berth login` or set BERTH_TOKEN (the admin token is in <data-dir>/admin-token).',
        },
      };
    }
    if (projectTokenReaches(store, token, r.method, r.route, r.params))
      return { ok: true, projectToken: token };
    const project = store.projects.getById(token.projectId);
    const env = store.environments.get(project, token.environmentId);
    return {
      ok: false,
      projectToken: token,
      status: 403,
      error: {
        code: 'forbidden',
        message: `This project token only reaches the ${env.name} environment of project ${project.name}; use a token of the environment you meant, or the admin token.`,
      },
    };
  };
}

function projectTokenReaches(
  store: Store,
  token: ProjectToken,
  method: string,
  route: string,
  params: Record<string, string>,
): boolean {
  if (route === WHOAMI) return true;
  // The environment itself (delete, rename) is the admin's; reading it is not.
  if ((route === ENV_ROUTES && method === 'GET') || route.startsWith(`${ENV_ROUTES}/`)) {
    const project = store.projects.find(params.project ?? '');
    if (project?.id !== token.projectId) return false;
    return store.environments.find(project, params.env ?? '')?.id === token.environmentId;
  }
  if (route === DEPLOYMENT_ROUTES || route.startsWith(`${DEPLOYMENT_ROUTES}/`)) {
    return store.deployments.find(params.id ?? '')?.environmentId === token.environmentId;
  }
  return false;
}

/** Who the token is: any valid token may ask. */
export const WHOAMI = '/v1/whoami';
const ENV_ROUTES = '/v1/projects/:project/environments/:env';
const DEPLOYMENT_ROUTES = '/v1/deployments/:id';
