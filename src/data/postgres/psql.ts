/** Berth's own SQL against a cluster it runs (psql over TCP, password in the environment), with a timeout. */
import { spawn } from 'node:child_process';
import { delay } from '../../lib/wait.js';
import { type PsqlTarget, pgIsreadyArgv, psqlArgv } from './argv.js';
import type { PostgresBinaries } from './binaries.js';

const PSQL_TIMEOUT_MS = 30_000;

function run(
  argv: string[],
  o: { env: Record<string, string>; stdin?: string; timeoutMs: number },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', ...o.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: o.timeoutMs,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString('utf8');
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString('utf8');
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => {});
    child.stdin.end(o.stdin ?? '');
  });
}

/** Runs sql (psql variables as :'name'); resolves with its output, rejects with PostgreSQL's error line. */
export async function runPsql(
  pg: Pick<PostgresBinaries, 'psql'>,
  target: PsqlTarget & { password: string },
  sql: string,
  variables: Record<string, string> = {},
): Promise<string> {
  const res = await run(psqlArgv(pg, target, variables), {
    env: { PGPASSWORD: target.password, PGCONNECT_TIMEOUT: '5' },
    stdin: sql,
    timeoutMs: PSQL_TIMEOUT_MS,
  });
  if (res.code !== 0) {
    const line = res.stderr.split('\n').find((l) => /ERROR|FATAL|error/.test(l)) ?? res.stderr.trim();
    throw new Error(line.replace(/^psql:[^:]*:\d+:\s*/, '').trim() || `psql exited with code ${res.code}`);
  }
  return res.stdout;
}

/**
 * Waits until the server at host:port accepts connections. Rejects after timeoutMs, or as soon as `gone`
 * settles (the server exited: its reason is the rejection).
 */
export async function waitAccepting(
  pg: Pick<PostgresBinaries, 'pgIsready'>,
  o: { host: string; port: number; timeoutMs: number; gone?: Promise<string> },
): Promise<void> {
  let goneReason: string | null = null;
  void o.gone?.then((r) => {
    goneReason = r;
  });
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    if (goneReason !== null) throw new Error(goneReason);
    const res = await run(pgIsreadyArgv(pg, o), { env: {}, timeoutMs: 5000 });
    if (res.code === 0) return;
    if (goneReason !== null) throw new Error(goneReason);
    if (Date.now() > deadline) {
      throw new Error(
        `PostgreSQL did not accept connections on ${o.host}:${o.port} within ${o.timeoutMs / 1000}s`,
      );
    }
    await delay(50);
  }
}
