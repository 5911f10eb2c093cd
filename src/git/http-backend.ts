import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';

export interface BackendOptions {
  /** GIT_PROJECT_ROOT: the directory holding `<project>.git`. */
  projectRoot: string;
  /** `/<project>.git/info/refs` etc. */
  pathInfo: string;
  remoteUser: string;
  /** Extra environment the hooks inherit (API URL, token, project). */
  env: Record<string, string>;
  timeoutMs: number;
}

const CGI_HEADER_END = /\r?\n\r?\n/;

/**
 * Serves one smart-HTTP request with `git http-backend` as a CGI program: the request body is
 * piped in, the CGI headers (Status:, Content-Type, …) become the HTTP response head and the rest
 * streams out. The backend (and its hooks) is killed on timeout or when the client goes away.
 */
export function runHttpBackend(req: FastifyRequest, reply: FastifyReply, opts: BackendOptions): void {
  const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/',
    ...opts.env,
    GIT_PROJECT_ROOT: opts.projectRoot,
    GIT_HTTP_EXPORT_ALL: '1',
    PATH_INFO: opts.pathInfo,
    QUERY_STRING: query,
    REQUEST_METHOD: req.method,
    REMOTE_USER: opts.remoteUser,
    REMOTE_ADDR: req.ip,
  };
  const h = req.headers;
  if (h['content-type']) env.CONTENT_TYPE = h['content-type'];
  if (h['content-length']) env.CONTENT_LENGTH = h['content-length'];
  if (typeof h['content-encoding'] === 'string') env.HTTP_CONTENT_ENCODING = h['content-encoding'];
  if (typeof h['git-protocol'] === 'string') env.GIT_PROTOCOL = h['git-protocol'];

  reply.hijack();
  const res = reply.raw;
  // Its own process group, so a kill reaches receive-pack and the hook too.
  const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  };
  const timer = setTimeout(kill, opts.timeoutMs);
  res.on('close', kill);
  child.on('close', () => clearTimeout(timer));
  child.on('error', (err) => {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(`git http-backend failed: ${err.message}\n`);
  });

  const body = req.body as Readable | undefined;
  if (body && typeof body.pipe === 'function') body.pipe(child.stdin);
  else child.stdin.end();
  child.stdin.on('error', () => undefined);

  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    if (stderr.length < 4096) stderr += c.toString();
  });

  let head = Buffer.alloc(0);
  let streaming = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (streaming) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const text = head.toString('latin1');
    const m = CGI_HEADER_END.exec(text);
    if (!m) return;
    let status = 200;
    const headers: Record<string, string> = {};
    for (const line of text.slice(0, m.index).split(/\r?\n/)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'status') status = Number.parseInt(value, 10) || 200;
      else headers[name] = value;
    }
    res.writeHead(status, headers);
    streaming = true;
    const rest = head.subarray(m.index + m[0].length);
    if (rest.length) res.write(rest);
  });
  child.stdout.on('end', () => {
    if (!streaming && !res.headersSent) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`git http-backend gave no response: ${stderr.trim()}\n`);
      return;
    }
    res.end();
  });
}
