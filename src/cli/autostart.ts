import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { delay } from '../lib/wait.js';
import { ApiClient } from './client.js';
import { DEFAULT_URL, dataDir, tildify } from './context.js';
import { CliError } from './errors.js';

/**
 * `berth up` with no server configured starts one: if nothing answers GET /v1/health on the default
 * address, run `berth server` detached (own process group, output to <dataDir>/server.log) and wait
 * until it answers. Returns the line to print, or null when nothing was started.
 */

async function answers(url: string): Promise<boolean> {
  try {
    const h = await new ApiClient(url, undefined, dataDir()).health({ timeoutMs: 1000 });
    return Boolean(h?.ok);
  } catch {
    return false;
  }
}

/** `: <reason>` from the server's last `Error: …` line in its log (its one-sentence refusal), or nothing. */
function lastError(logFile: string): string {
  let text = '';
  try {
    text = fs.readFileSync(logFile, 'utf8').slice(-4096);
  } catch {
    return '';
  }
  const line = text
    .trimEnd()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('Error: '));
  return line === undefined ? '' : `: ${line.slice('Error: '.length).replace(/\.$/, '')}`;
}

export async function ensureLocalServer(opts: { timeoutMs?: number } = {}): Promise<string | null> {
  if (process.env.BERTH_NO_AUTOSTART) return null;
  if (await answers(DEFAULT_URL)) return null;

  const dir = dataDir();
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const logFile = path.join(dir, 'server.log');
  const fd = fs.openSync(logFile, 'a', 0o600);
  const mainScript = fileURLToPath(new URL('./main.js', import.meta.url));
  const child = spawn(process.execPath, [mainScript, 'server', '--data-dir', dir], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: process.env,
  });
  fs.closeSync(fd);
  const state: { exited: string | null } = { exited: null };
  child.once('exit', (code, signal) => {
    state.exited = signal ? `signal ${signal}` : `code ${code}`;
  });
  child.once('error', (err) => {
    state.exited = err.message;
  });
  child.unref();

  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  while (!(await answers(DEFAULT_URL))) {
    if (state.exited || Date.now() > deadline) {
      const why = state.exited
        ? `it exited with ${state.exited}${lastError(logFile)}`
        : `it did not answer within ${Math.round(timeoutMs / 1000)} seconds`;
      throw new CliError(`Could not start a local Berth server (${why}); see ${tildify(logFile)}`);
    }
    await delay(200);
  }
  return `Started a local Berth server (data in ${tildify(dir)}, logs in ${tildify(logFile)}); stop it with \`berth server stop --all\``;
}
