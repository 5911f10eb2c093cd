/**
 * Error answers written straight to a connection, in the API's error shape: for upgrades Fastify never sees,
 * and for request bodies refused halfway, whose connection must outlive the answer long enough to be read.
 */

import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/** How long a refused body is still read (and discarded) after the answer, before the connection is cut. */
const LINGER_MS = 5000;

export function rawErrorResponse(status: number, code: string, message: string): string {
  const body = JSON.stringify({ error: { code, message } });
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\ncontent-type: application/json; charset=utf-8\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
  );
}

/**
 * Answers a request whose body is refused before its end (too big, too slow) and closes the connection the way
 * nginx's lingering close does: the answer, then our FIN, while what the client still sends is read and dropped
 * for a while. Closing at once would leave unread bytes behind, the kernel would answer them with a reset, and
 * the client — still busy sending — would lose the answer with it.
 */
export function refuseBodyAndLinger(
  req: IncomingMessage,
  status: number,
  code: string,
  message: string,
): void {
  const socket = req.socket;
  socket.end(rawErrorResponse(status, code, message));
  req.resume();
  socket.resume();
  const cut = setTimeout(() => socket.destroy(), LINGER_MS);
  cut.unref();
  socket.once('close', () => clearTimeout(cut));
}

export function refuseUpgrade(socket: Duplex, status: number, code: string, message: string): void {
  socket.end(rawErrorResponse(status, code, message));
}
