/**
 * `berth connect`'s tunnel: `GET …/services/:service/connect` with `Upgrade: berth-tcp` on the API's own
 * authenticated connection becomes a raw TCP pipe to the data service's private address, so its port never
 * has to be public. The token is checked by the same decision as every route (auth.ts tokenCheck).
 */
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { errorMessage } from '../core/errors.js';
import type { TokenCheck } from './auth.js';
import { TUNNEL_UPGRADE } from './contract/index.js';
import type { ApiDeps } from './deps.js';
import { resolveScope } from './lookup.js';
import { rawErrorResponse, refuseUpgrade as refuse } from './raw-refusal.js';

export const TUNNEL_ROUTE = '/v1/projects/:project/environments/:env/services/:service/connect';
const PATH = /^\/v1\/projects\/([^/]+)\/environments\/([^/]+)\/services\/([^/]+)\/connect$/;
/** A tunnel whose database does not answer the connect within this long is closed. */
const CONNECT_TIMEOUT_MS = 10_000;

/** `berth connect`'s Upgrade; false (nothing written) when the path is not the connect route. */
export function tunnelUpgrade(deps: ApiDeps, check: TokenCheck) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    const m = PATH.exec((req.url ?? '').split('?')[0]);
    if (!m) return false;
    if (req.method !== 'GET') {
      refuse(
        socket,
        400,
        'bad_request',
        `The connect route takes GET with its Upgrade header, not ${req.method}.`,
      );
      return true;
    }
    if ((req.headers.upgrade ?? '').toLowerCase() !== TUNNEL_UPGRADE) {
      refuse(socket, 400, 'bad_request', `The connect route upgrades to ${TUNNEL_UPGRADE} only.`);
      return true;
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
      return true;
    }
    const verdict = check({
      authorization: req.headers.authorization ?? '',
      method: 'GET',
      route: TUNNEL_ROUTE,
      params,
    });
    if (!verdict.ok) {
      refuse(socket, verdict.status, verdict.error.code, verdict.error.message);
      return true;
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
      return true;
    }
    pipe(socket, head, target);
    return true;
  };
}

/** Connects to the database first, so a stopped one is a 502 the CLI can word, then switches protocols. */
function pipe(client: Duplex, head: Buffer, target: { host: string; port: number }): void {
  const upstream = net.connect({ host: target.host, port: target.port });
  let connected = false;
  upstream.setTimeout(CONNECT_TIMEOUT_MS, () => upstream.destroy(new Error('connect timed out')));
  upstream.once('error', (err) => {
    if (!connected && !client.writableEnded) {
      client.end(
        rawErrorResponse(
          502,
          'bad_gateway',
          `The database does not accept connections (${err.message}); check \`berth status\`.`,
        ),
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
