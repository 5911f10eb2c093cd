/**
 * The `proc-receive` hook of every Berth bare repo (see README.md). git receive-pack hands it the
 * pushed ref updates over pkt-lines; for each branch it stores the commit (`git update-ref`), asks the
 * Berth API to deploy it to the environment the branch maps to (a preview for most branches), relays
 * the build and deploy logs to the pusher (stderr becomes `remote:` lines) and answers `ok` or
 * `ng <ref> <reason>` — a failed deployment makes the push fail while the commit stays stored. A
 * deleted branch tears its preview environment down. Env (inherited through git http-backend):
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

interface Started {
  environment: string;
  environmentKind: string;
  environmentCreated: boolean;
  deployments: { deploymentId: string; service: string; url: string; status: string }[];
}

async function errorOf(res: http.IncomingMessage, text: string): Promise<string> {
  try {
    return (JSON.parse(text) as { error: { message: string } }).error.message.trim();
  } catch {
    return text.trim() || `HTTP ${res.statusCode}`;
  }
}

/** Relays one deployment's log until it ends; returns its final status and reason. */
async function follow(
  deploymentId: string,
  prefix: string,
): Promise<{ status: string; reason: string | null }> {
  const logs = await api('GET', `/v1/deployments/${deploymentId}/logs?follow=1&until=terminal`);
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
        for (const l of e.message.split('\n')) say(`${prefix}${l}`);
      } else if (e.type === 'status' && e.status) {
        status = e.status;
        reason = e.reason ?? null;
        say(`Berth: ${prefix}${e.status}${e.reason ? `: ${e.reason}` : ''}`);
      }
    }
  }
  return { status, reason };
}

/**
 * Deploys one pushed commit to the environment its branch maps to and follows every service's
 * deployment; returns null when none failed (SKIPPED is not a failure), else the reason.
 */
async function deploy(project: string, sha: string, branch: string, before: string): Promise<string | null> {
  const res = await api('POST', `/v1/projects/${encodeURIComponent(project)}/git-deploys`, {
    sha,
    branch,
    ...(ZERO.test(before) ? {} : { before }),
  });
  const text = await readAll(res);
  if (res.statusCode !== 201) return `deploy refused: ${await errorOf(res, text)}`;
  const started = JSON.parse(text) as Started;
  if (started.environmentCreated) {
    say(
      `Berth: created preview environment ${started.environment} for branch ${branch} (copied from production)`,
    );
  }
  const many = started.deployments.length > 1;
  for (const d of started.deployments) {
    say(`Berth: deploying ${sha.slice(0, 7)} to ${project}/${started.environment}, service ${d.service}`);
    say(`Berth: deployment ${d.deploymentId}`);
  }
  const results = await Promise.all(
    started.deployments.map((d) => follow(d.deploymentId, many ? `[${d.service}] ` : '')),
  );
  const failures: string[] = [];
  started.deployments.forEach((d, i) => {
    const { status, reason } = results[i];
    const who = many ? `${d.service}: ` : '';
    if (status === 'SUCCESS') say(`Berth: ${who}deployed ${d.url}`);
    else if (status === 'SKIPPED') return;
    else if (!TERMINAL.has(status))
      failures.push(`${who}lost track of the deployment; check \`berth deployments\``);
    else failures.push(`${who}deployment ${status}${reason ? `: ${reason}` : ''}`);
  });
  if (started.environmentCreated && results.every((r) => r.status === 'FAILED')) {
    // Made for this push, which deployed nothing: it goes (after the pusher has read why it failed).
    await rejected(project, branch, started.environment);
  } else if (started.environmentKind === 'preview') {
    say(`Berth: preview environment ${started.environment} for branch ${branch}:`);
    for (const d of started.deployments) say(`Berth:   ${d.service} ${d.url}`);
  }
  return failures.length ? failures.join('; ') : null;
}

/** The preview this push created holds nothing: ask the server to remove it again. */
async function rejected(project: string, branch: string, environment: string): Promise<void> {
  const res = await api('POST', `/v1/projects/${encodeURIComponent(project)}/git-rejects`, {
    branch,
    environment,
  });
  const text = await readAll(res);
  if (res.statusCode !== 200) {
    say(`Berth: could not remove the empty preview ${environment}: ${await errorOf(res, text)}`);
    return;
  }
  const out = JSON.parse(text) as { deleted: { name: string } | null };
  if (out.deleted)
    say(`Berth: removed preview environment ${out.deleted.name} again, since nothing deployed to it`);
}

/** A deleted branch takes its preview environment with it. */
async function deleted(project: string, branch: string): Promise<void> {
  const res = await api('POST', `/v1/projects/${encodeURIComponent(project)}/git-deletes`, { branch });
  const text = await readAll(res);
  if (res.statusCode !== 200) {
    say(`Berth: could not tear down the preview of ${branch}: ${await errorOf(res, text)}`);
    return;
  }
  const out = JSON.parse(text) as {
    deleted: { name: string; deployments: number; filesRemoved: number } | null;
  };
  if (out.deleted) {
    say(
      `Berth: deleted preview environment ${out.deleted.name} (${out.deleted.deployments} deployments, ${out.deleted.filesRemoved} files freed)`,
    );
  }
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
    if (!branch) {
      results.push(pkt(`ok ${ref}`));
      continue;
    }
    if (ZERO.test(newSha)) {
      try {
        await deleted(project, branch);
      } catch (err) {
        say(`Berth: could not reach the Berth API: ${err instanceof Error ? err.message : String(err)}`);
      }
      results.push(pkt(`ok ${ref}`));
      continue;
    }
    let failure: string | null;
    try {
      failure = await deploy(project, newSha, branch, oldSha);
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
