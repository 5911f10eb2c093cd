/**
 * The `proc-receive` hook of every Berth bare repo (see README.md). git receive-pack hands it the
 * pushed ref updates over pkt-lines; for each one it stores the commit (`git update-ref`), and for
 * main/master asks the Berth API to deploy it, relays the build and deploy log to the pusher (stderr
 * becomes `remote:` lines) and answers `ok` or `ng <ref> <reason>` — a failed deployment makes the
 * push fail while the commit stays stored. Env (inherited through git http-backend):
 * BERTH_API_URL, BERTH_TOKEN, BERTH_GIT_PROJECT.
 */
import { execFileSync } from 'node:child_process';
import http from 'node:http';

const ZERO = /^0+$/;
const TERMINAL = new Set(['SUCCESS', 'FAILED', 'CRASHED', 'REMOVED', 'SKIPPED']);

function pkt(line: string): Buffer {
  const b = Buffer.from(`${line}\n`);
  return Buffer.concat([Buffer.from((b.length + 4).toString(16).padStart(4, '0')), b]);
}
const FLUSH = Buffer.from('0000');

/** Reads pkt-lines from stdin, yielding each line or null for a flush packet. */
async function* readPackets(): AsyncGenerator<string | null> {
  let buf = Buffer.alloc(0);
  for await (const chunk of process.stdin) {
    buf = Buffer.concat([buf, chunk as Buffer]);
    while (buf.length >= 4) {
      const n = Number.parseInt(buf.subarray(0, 4).toString(), 16);
      if (n === 0) {
        buf = buf.subarray(4);
        yield null;
        continue;
      }
      if (buf.length < n) break;
      yield buf.subarray(4, n).toString().replace(/\n$/, '');
      buf = buf.subarray(n);
    }
  }
}

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

function api(method: string, path: string, body?: unknown): Promise<http.IncomingMessage> {
  const url = new URL(path, process.env.BERTH_API_URL ?? 'http://127.0.0.1:7070');
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method,
      headers: {
        authorization: `Bearer ${process.env.BERTH_TOKEN ?? ''}`,
        ...(payload ? { 'content-type': 'application/json' } : {}),
      },
    });
    req.on('response', resolve);
    req.on('error', reject);
    req.end(payload);
  });
}

async function readAll(res: http.IncomingMessage): Promise<string> {
  let text = '';
  for await (const c of res) text += (c as Buffer).toString();
  return text;
}

interface LogEvent {
  type: 'log' | 'status';
  message?: string;
  status?: string;
  reason?: string | null;
}

/** Deploys one pushed commit and follows it; returns null on SUCCESS, else the reason it failed. */
async function deploy(project: string, sha: string, branch: string): Promise<string | null> {
  const res = await api('POST', `/v1/projects/${encodeURIComponent(project)}/git-deploys`, { sha, branch });
  const text = await readAll(res);
  if (res.statusCode !== 201) {
    let message = text;
    try {
      message = (JSON.parse(text) as { error: { message: string } }).error.message;
    } catch {
      /* not JSON */
    }
    return `deploy refused: ${message.trim()}`;
  }
  const started = JSON.parse(text) as { deploymentId: string; service: string; url: string };
  say(`Berth: deploying ${sha.slice(0, 7)} to ${project}/production, service ${started.service}`);
  say(`Berth: deployment ${started.deploymentId}`);
  const logs = await api('GET', `/v1/deployments/${started.deploymentId}/logs?follow=1&until=terminal`);
  let status = 'UNKNOWN';
  let reason: string | null = null;
  let rest = '';
  for await (const c of logs) {
    rest += (c as Buffer).toString();
    const lines = rest.split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      const e = JSON.parse(line) as LogEvent;
      if (e.type === 'log' && e.message !== undefined) {
        for (const l of e.message.split('\n')) say(l);
      } else if (e.type === 'status' && e.status) {
        status = e.status;
        reason = e.reason ?? null;
        say(`Berth: ${e.status}${e.reason ? `: ${e.reason}` : ''}`);
      }
    }
  }
  if (status === 'SUCCESS') {
    say(`Berth: deployed ${started.url}`);
    return null;
  }
  if (!TERMINAL.has(status)) return 'lost track of the deployment; check `berth deployments`';
  return `deployment ${status}${reason ? `: ${reason}` : ''}`;
}

async function main(): Promise<void> {
  const packets = readPackets();
  // Version negotiation: read until flush, answer version=1.
  for (let p = await packets.next(); !p.done && p.value !== null; p = await packets.next()) {
    /* capabilities of receive-pack: none needed */
  }
  process.stdout.write(Buffer.concat([pkt('version=1'), FLUSH]));
  const commands: string[] = [];
  for (let p = await packets.next(); !p.done && p.value !== null; p = await packets.next()) {
    commands.push(p.value);
  }
  const project = process.env.BERTH_GIT_PROJECT ?? '';
  const results: Buffer[] = [];
  for (const command of commands) {
    const [oldSha, newSha, ref] = command.split(' ');
    try {
      // Store the commit first: it stays in the repo whatever the deployment does.
      if (ZERO.test(newSha)) execFileSync('git', ['update-ref', '-d', ref, oldSha]);
      else execFileSync('git', ['update-ref', ref, newSha, oldSha]);
    } catch {
      results.push(pkt(`ng ${ref} could not update the ref (someone pushed meanwhile?)`));
      continue;
    }
    const branch = ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : null;
    if (ZERO.test(newSha) || !branch) {
      results.push(pkt(`ok ${ref}`));
      continue;
    }
    if (branch !== 'main' && branch !== 'master') {
      say(`Berth: stored ${branch}; only main/master deploy for now (preview environments come later).`);
      results.push(pkt(`ok ${ref}`));
      continue;
    }
    let failure: string | null;
    try {
      failure = await deploy(project, newSha, branch);
    } catch (err) {
      failure = `could not reach the Berth API: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (failure) say(`Berth: ${failure}`);
    results.push(pkt(failure ? `ng ${ref} ${failure.split('\n')[0]}` : `ok ${ref}`));
  }
  process.stdout.write(Buffer.concat([...results, FLUSH]));
  process.exitCode = 0;
}

main().catch((err: unknown) => {
  say(`Berth: hook failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
