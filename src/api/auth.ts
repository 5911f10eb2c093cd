import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

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
 * Every route but PUBLIC needs `Authorization: Bearer <admin token>` (or Basic auth with the token as password).
 */
export function tokenGuard(adminToken: string) {
  const expected = Buffer.from(adminToken);
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const url = req.url.split('?')[0];
    if (PUBLIC.has(url)) return;
    const header = req.headers.authorization ?? '';
    const given = Buffer.from(presentedToken(header));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      // Git only sends credentials after a Basic challenge.
      if (url.startsWith('/git/')) reply.header('www-authenticate', 'Basic realm="Berth"');
      await reply.code(401).send({
        error: {
          code: 'unauthorized',
          message:
            'Missing or invalid API token; run `berth login` or set BERTH_TOKEN (the admin token is in <data-dir>/admin-token).',
        },
      });
    }
  };
}
