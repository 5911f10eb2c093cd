/**
 * The `berth ssh` endpoint: an HTTP Upgrade (Fastify routes never see upgrades), checked by the same token check
 * as every route, then frames (contract/exec.ts) between the connection and one process in a replica's world.
 */
import { spawn } from 'node:child_process';
import type { IncomingMessage } from 'node:http';
import os from 'node:os';
import type { Duplex } from 'node:stream';
import { UserError } from '../core/errors.js';
import { type ExecRequest, planExec } from '../deploy/exec.js';
import { stopGroup } from '../runtime/stop-group.js';
import type { TokenCheck } from './auth.js';
import {
  EXEC_PROTOCOL,
  encodeFrame,
  FRAME_ERROR,
  FRAME_EXIT,
  FRAME_STDERR,
  FRAME_STDIN,
  FRAME_STDIN_END,
  FRAME_STDOUT,
  FrameDecoder,
  MAX_FRAME_PAYLOAD,
} from './contract/index.js';
import type { ApiDeps } from './deps.js';
import { resolveScope } from './lookup.js';
import { refuseUpgrade } from './raw-refusal.js';

/** The route pattern, as the token check knows routes (project tokens reach their environment's). */
export const EXEC_ROUTE = '/v1/projects/:project/environments/:env/services/:service/exec';
const EXEC_PATH = /^\/v1\/projects\/([^/]+)\/environments\/([^/]+)\/services\/([^/]+)\/exec$/;
/** A session ends after this, whatever runs (every job has a timeout). */
export const EXEC_MAX_MS = 12 * 60 * 60_000;
/** SIGTERM to SIGKILL when the connection goes away first. */
const STOP_GRACE_MS = 2000;

/** The query of an exec request; throws a UserError naming what is wrong. */
export function parseExecQuery(search: URLSearchParams): ExecRequest {
  const replica = search.get('replica');
  if (replica !== null && !/^\d+$/.test(replica)) {
    throw new UserError(`replica must be a replica number, not "${replica}".`);
  }
  const argvText = search.get('argv');
  let argv: string[] | null = null;
  if (argvText !== null) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(argvText);
    } catch {
      parsed = null;
    }
    if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((a) => typeof a === 'string')) {
      throw new UserError('argv must be a JSON array of strings with the program first.');
    }
    argv = parsed;
  }
  const cols = Number(search.get('cols') ?? 0);
  const rows = Number(search.get('rows') ?? 0);
  const fits = (n: number) => Number.isInteger(n) && n > 0 && n < 10_000;
  return {
    replica: replica === null ? null : Number(replica),
    argv,
    tty: search.get('tty') === '1',
    size: fits(cols) && fits(rows) ? { cols, rows } : null,
  };
}

/** `berth ssh`'s Upgrade; false (nothing written) when the path is not the exec route. */
export function execUpgrade(deps: ApiDeps, check: TokenCheck) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    const url = new URL(req.url ?? '/', 'http://berth');
    const match = EXEC_PATH.exec(url.pathname);
    if (!match) return false;
    handle(url, match, req, socket, head);
    return true;
  };

  function handle(
    url: URL,
    match: RegExpExecArray,
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): void {
    if ((req.headers.upgrade ?? '').toLowerCase() !== EXEC_PROTOCOL) {
      refuseUpgrade(socket, 400, 'bad_request', `Upgrade to ${EXEC_PROTOCOL} to run a command here.`);
      return;
    }
    const [project, env, service] = match.slice(1).map((s) => decodeURIComponent(s));
    const params = { project, env, service };
    try {
      const verdict = check({
        authorization: req.headers.authorization ?? '',
        method: 'GET',
        route: EXEC_ROUTE,
        params,
      });
      if (!verdict.ok) {
        refuseUpgrade(socket, verdict.status, verdict.error.code, verdict.error.message);
        return;
      }
      const scope = resolveScope(deps.store, params);
      const plan = planExec(
        deps.store,
        deps.engine.replicas,
        scope.service,
        scope.environment,
        parseExecQuery(url.searchParams),
      );
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nupgrade: ${EXEC_PROTOCOL}\r\nconnection: Upgrade\r\n\r\n`,
      );
      runSession(socket, head, plan);
    } catch (err) {
      if (err instanceof UserError) {
        refuseUpgrade(socket, err.status, err.code, err.message);
        return;
      }
      refuseUpgrade(socket, 500, 'internal', `Internal error: ${(err as Error).message}`);
    }
  }
}

/** Pipes frames to and from the process until it exits (EXIT frame) or the connection goes (the group is stopped). */
function runSession(
  socket: Duplex,
  head: Buffer,
  plan: { argv: string[]; cwd: string; env: Record<string, string> },
): void {
  const child = spawn(plan.argv[0], plan.argv.slice(1), {
    cwd: plan.cwd,
    env: plan.env,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let done = false;
  const send = (type: number, payload: Buffer | string) => {
    if (!socket.destroyed) socket.write(encodeFrame(type, payload));
  };
  const forward = (type: number) => (chunk: Buffer) => {
    for (let at = 0; at < chunk.length; at += MAX_FRAME_PAYLOAD)
      send(type, chunk.subarray(at, at + MAX_FRAME_PAYLOAD));
  };
  child.stdout.on('data', forward(FRAME_STDOUT));
  child.stderr.on('data', forward(FRAME_STDERR));
  child.stdin.on('error', () => undefined);
  const stop = () => {
    if (!done && child.pid) void stopGroup(child.pid, { graceMs: STOP_GRACE_MS });
  };
  const timer = setTimeout(stop, EXEC_MAX_MS);
  timer.unref();
  child.on('error', (err) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    send(FRAME_ERROR, `Could not run ${plan.argv[0]}: ${err.message}`);
    socket.end();
  });
  child.on('close', (code, signal) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    const exit = code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0);
    send(FRAME_EXIT, JSON.stringify({ code: exit }));
    socket.end();
  });

  const decoder = new FrameDecoder();
  const onData = (chunk: Buffer) => {
    let frames: { type: number; payload: Buffer }[];
    try {
      frames = decoder.push(chunk);
    } catch {
      socket.destroy();
      return;
    }
    for (const f of frames) {
      if (f.type === FRAME_STDIN && !child.stdin.destroyed) child.stdin.write(f.payload);
      else if (f.type === FRAME_STDIN_END) child.stdin.end();
    }
  };
  if (head.length) onData(head);
  socket.on('data', onData);
  socket.on('close', stop);
}
