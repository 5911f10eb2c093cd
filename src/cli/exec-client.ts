/**
 * The client side of `berth ssh`: an HTTP Upgrade to `berth-exec` carrying stdin out and stdout, stderr and the
 * exit code back as frames (src/api/contract/exec.ts). node:http, not undici: undici's request API has no upgrade.
 */
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import {
  EXEC_PROTOCOL,
  type ExitFrame,
  encodeFrame,
  FRAME_ERROR,
  FRAME_EXIT,
  FRAME_STDERR,
  FRAME_STDIN,
  FRAME_STDIN_END,
  FRAME_STDOUT,
  FrameDecoder,
} from '../api/contract/index.js';
import { CliError, isUnreachable } from './errors.js';

export interface ExecStreams {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Opens the upgraded connection; rejects with the server's one-sentence error when it refuses. */
function connect(url: URL, token: string | undefined): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.request(url, {
      method: 'GET',
      headers: {
        connection: 'Upgrade',
        upgrade: EXEC_PROTOCOL,
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
    });
    req.on('upgrade', (_res, socket, head) => {
      if (head.length) socket.unshift(head);
      resolve(socket);
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => {
        let message = `The Berth server answered HTTP ${res.statusCode} instead of starting the command`;
        try {
          const parsed = JSON.parse(text) as { error?: { message?: unknown } };
          if (typeof parsed.error?.message === 'string') message = parsed.error.message;
        } catch {
          /* not JSON */
        }
        reject(new CliError(message, { cause: { status: res.statusCode } }));
      });
    });
    req.on('error', (err) => {
      if (isUnreachable(err)) {
        reject(
          new CliError(
            `Cannot reach the Berth server at ${url.origin}; start it with \`berth server\` or set BERTH_URL`,
          ),
        );
      } else reject(new CliError(`The request to ${url.origin} failed: ${err.message}`));
    });
    req.end();
  });
}

/** Runs the session to its end; resolves the command's exit code. */
export async function runExec(url: URL, token: string | undefined, io: ExecStreams): Promise<number> {
  const socket = await connect(url, token);
  return new Promise<number>((resolve, reject) => {
    let exit: number | null = null;
    let failure: string | null = null;
    const decoder = new FrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      for (const f of decoder.push(chunk)) {
        if (f.type === FRAME_STDOUT) io.stdout.write(f.payload);
        else if (f.type === FRAME_STDERR) io.stderr.write(f.payload);
        else if (f.type === FRAME_EXIT) exit = (JSON.parse(f.payload.toString('utf8')) as ExitFrame).code;
        else if (f.type === FRAME_ERROR) failure = f.payload.toString('utf8');
      }
    });
    const onInput = (chunk: Buffer | string) => {
      socket.write(encodeFrame(FRAME_STDIN, typeof chunk === 'string' ? Buffer.from(chunk) : chunk));
    };
    const onEnd = () => socket.write(encodeFrame(FRAME_STDIN_END));
    io.stdin.on('data', onInput);
    io.stdin.on('end', onEnd);
    const finish = () => {
      io.stdin.off('data', onInput);
      io.stdin.off('end', onEnd);
      if ('pause' in io.stdin) io.stdin.pause();
      if (failure !== null) reject(new CliError(failure));
      else if (exit === null)
        reject(new CliError('The connection to the Berth server ended before the command did'));
      else resolve(exit);
    };
    socket.on('close', finish);
    socket.on('error', () => undefined);
  });
}
