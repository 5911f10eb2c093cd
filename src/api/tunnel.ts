/**
 * `berth connect`'s tunnel: `GET …/services/:service/connect` with `Upgrade: berth-tcp` on the API's own
 * authenticated connection becomes a raw TCP pipe to the data service's private address, so its port never
 * has to be public. The token is checked by the same decision as every route (auth.ts tokenCheck).
 */
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { errorMessage } from '../core/errors.js';
import { tokenCheck } from './auth.js';
import { TUNNEL_UPGRADE } from './contract/index.js';
import type { ApiDeps } from './deps.js';
import { resolveScope } from './lookup.js';

export const TUNNEL_ROUTE = '/v1/projects/:project/environments/:env/services/:service/connect';
const PATH = /^\/v1\/projects\/([^/]+)\/environments\/([^/]+)\/services\/([^/]+)\/connect$/;
/** A tunnel whose database does not answer the connect within this long is closed. */
const CONNECT_TIMEOUT_MS = 10_000;

function refuse(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  const reason =
    { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' }[status] ?? 'Error';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** Answers Upgrade requests on the API's server: the tunnel route, nothing else. */
export function attachTunnel(app: FastifyInstance, deps: ApiDeps): void {
  const check = tokenCheck(deps.adminToken, deps.store);
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const m = PATH.exec((req.url ?? '').split('?')[0]);
    if (!m || req.method !== 'GET') {
      refuse(
        socket,
        400,
        'bad_request',
        `Only …/services/:service/connect takes an Upgrade header, not ${req.method} ${(req.url ?? '').split('?')[0]}; send the request without one.`,
      );
      return;
    }
    if ((req.headers.upgrade ?? '').toLowerCase() !== TUNNEL_UPGRADE) {
      refuse(socket, 400, 'bad_request', `The connect route upgrades to ${TUNNEL_UPGRADE} only.`);
      return;
    }
    let params: { project: string; env: string; service: string };
    try {
      params = {
        project: decodeURIComponent(m[1]),
        env: decodeURIComponent(m[2]),
        service: decodeURIComponent(m[3]),
      };
    } catch {
      refuse(socket, 400, 'bad_request', 'The connect path is not valid percent-encoding.');
      return;
    }
    const verdict = check({
      authorization: req.headers.authorization ?? '',
      method: 'GET',
      route: TUNNEL_ROUTE,
      params,
    });
    if (!verdict.ok) {
      refuse(socket, verdict.status, verdict.error.code, verdict.error.message);
      return;
    }
    let target: { host: string; port: number };
    try {
      const { environment, service } = resolveScope(deps.store, params);
      target = deps.engine.data.connection(deps.engine.data.get(service, environment));
    } catch (err) {
      const status = (err as { status?: number }).status ?? 400;
      refuse(
        socket,
        status === 404 ? 404 : 400,
        status === 404 ? 'not_found' : 'bad_request',
        errorMessage(err),
      );
      return;
    }
    pipe(socket, head, target);
  });
}

/** Connects to the database first, so a stopped one is a 502 the CLI can word, then switches protocols. */
function pipe(client: Duplex, head: Buffer, target: { host: string; port: number }): void {
  const upstream = net.connect({ host: target.host, port: target.port });
  let connected = false;
  upstream.setTimeout(CONNECT_TIMEOUT_MS, () => upstream.destroy(new Error('connect timed out')));
  upstream.once('error', (err) => {
    if (!connected && !client.writableEnded) {
      const body = JSON.stringify({
        error: {
          code: 'bad_gateway',
          message: `The database does not accept connections (${err.message}); check \`berth status\`.`,
        },
      });
      client.end(
        `HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
      return;
    }
    client.destroy();
  });
  upstream.once('connect', () => {
    connected = true;
    upstream.setTimeout(0);
    upstream.setNoDelay(true);
    client.write(
      `HTTP/1.1 101 Switching Protocols\r\nupgrade: ${TUNNEL_UPGRADE}\r\nconnection: Upgrade\r\n\r\n`,
    );
    if (head.length > 0) upstream.write(head);
    client.pipe(upstream);
    upstream.pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
}
